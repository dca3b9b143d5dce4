"""The `augment` command.

Every user error (an `AugmentError`) prints one line `augment: error: ...` and exits
with status 2; heavy libraries are imported inside the subcommands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from augment.errors import AugmentError, ConfigError
from augment.generators.registry import available_generators
from augment.workspace import PARAMS_FILE

if TYPE_CHECKING:
    import numpy as np

    from augment.data.sources import Dataset
    from augment.validate.gate import LabelledData


def _parse_overrides(pairs: Sequence[str] | None, drop: Sequence[str] | None) -> dict[str, str]:
    overrides = {name: "drop" for name in drop or []}
    for pair in pairs or []:
        name, sep, kind = pair.partition("=")
        if not sep:
            raise AugmentError(f"--declare expects COLUMN=KIND, got {pair!r}")
        overrides[name] = kind
    return overrides


def cmd_datasets(args: argparse.Namespace) -> int:
    from augment.data.sources import BUILTIN

    for name, description in BUILTIN.items():
        print(f"builtin:{name:<14} {description}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from augment.data import load_dataset
    from augment.data.schema import CELL_WIDTH, clip, clip_strings

    overrides = _parse_overrides(args.declare, args.drop)
    ds = load_dataset(args.source, target=args.target, overrides=overrides)
    if args.json:  # every name, category and label cut to CELL_WIDTH characters, as printed
        schema = json.loads(ds.schema.to_json()) if ds.schema else None
        notes = [clip(n, 4 * CELL_WIDTH) for n in schema.pop("notes")] if schema else []
        (name, target, classes, schema), cut = clip_strings(
            [ds.name, ds.target, ds.class_counts(), schema])
        payload = {
            "name": name, "modality": ds.modality, "rows": len(ds), "target": target,
            "classes": classes, "fingerprint": ds.fingerprint,
            "schema": schema and {**schema, "notes": notes},
            "shape": list(ds.X.shape[1:]) if ds.modality == "image" else None,
            "truncated": {"values": cut, "width": CELL_WIDTH, "marker": "..."},
        }
        print(json.dumps(payload, indent=2, default=str))
        return 0
    print(f"dataset      {clip(ds.name)} ({ds.modality}, {len(ds)} rows)")
    print(f"fingerprint  {ds.fingerprint}")
    if ds.modality == "image":
        print(f"images       shape {ds.X.shape[1:]}, dtype {ds.X.dtype}, "
              f"values {ds.X.min()}..{ds.X.max()}")
    else:
        print(f"target       {clip(ds.target)}")
        print(f"{'column':<24}{'kind':<13}{'dtype':<10}{'missing':>8}  values")
        for c in ds.schema.columns:
            if c.categories is not None:
                shown = ", ".join(clip(v) for v in c.categories[:6])
                values = f"{len(c.categories)} categories: {shown}"
                values += ", ..." if len(c.categories) > 6 else ""
            elif c.min is not None:
                values = f"{c.min:g} .. {c.max:g}"
            else:
                values = ""
            print(f"{clip(c.name, 23):<24}{c.kind:<13}{clip(c.dtype, 9):<10}{c.null_rate:>7.1%}  "
                  f"{values}")
        for note in ds.schema.notes:
            print(f"note: {clip(note, 4 * CELL_WIDTH)}")
    print("class counts")
    total = len(ds)
    for label, count in ds.class_counts().items():
        print(f"  {clip(label):<20}{count:>8}  {count / total:6.1%}")
    return 0


def project_source(args: argparse.Namespace) -> Path | None:
    """The parameter file a command follows: --params FILE, else ./params.yaml when present."""
    if args.params:
        return Path(args.params)
    if Path(PARAMS_FILE).is_file():
        return Path(PARAMS_FILE)
    return None


def _project_params(args: argparse.Namespace) -> dict:
    """The parameter file the command follows: --params FILE, else ./params.yaml when present
    (empty when neither). Which one is used is said on stderr."""
    from augment.config import load_params

    path = project_source(args)
    if path is None:
        return {}
    params = load_params(path)
    print(f"note: following {path}", file=sys.stderr)
    return params


def _parse_sets(pairs: Sequence[str] | None) -> dict:
    """--set key=value pairs; values are read as YAML scalars (1, 0.5, true, cosine)."""
    import yaml

    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AugmentError(f"--set expects KEY=VALUE, got {pair!r}")
        params[key] = yaml.safe_load(value)
    return params


def cmd_fit(args: argparse.Namespace) -> int:
    import shutil

    from augment.config import generator_params
    from augment.data import load_dataset
    from augment.generators import get_generator
    from augment.io import check_writable
    from augment.threads import configure_threads

    project = _project_params(args)
    params = generator_params(project, args.generator) if project.get("train") else {}
    if params:
        try:  # an error in the file names the file
            get_generator(args.generator, **params)
        except ConfigError as err:
            raise ConfigError(f"{project_source(args)}: {err}") from err
    params.update(_parse_sets(args.set))
    if args.seed is not None:
        params["seed"] = args.seed
    generator = get_generator(args.generator, **params)
    configure_threads()
    out = Path(args.out)
    check_writable(out, "model", force=args.force)  # before any training
    overrides = _parse_overrides(args.declare, args.drop)
    ds = load_dataset(args.data, target=args.target, overrides=overrides or None)
    checkpoints = out.with_name(f".{out.name}.checkpoints")  # beside the model, never inside
    generator.fit(ds.X, ds.y, checkpoint_dir=checkpoints, schema=ds.schema)
    generator.save(out, force=args.force)
    shutil.rmtree(checkpoints, ignore_errors=True)
    last = generator.curve_[-1] if generator.curve_ else {}
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch")
    print(f"fitted {args.generator} on {ds.name} ({len(ds)} rows, {len(ds.classes)} classes) "
          f"-> {out}" + (f"; last epoch: {losses}" if losses else ""))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from augment.data.storage import write_labelled
    from augment.generators import load_generator
    from augment.io import atomic_file, check_file_writable, write_json
    from augment.sampling import parse_counts, policy_counts

    seed = args.seed
    if seed is None:
        seed = (_project_params(args).get("sample") or {}).get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"{project_source(args)}: sample.seed must be an integer, got {seed!r}")
    generator = load_generator(args.model)
    train_counts = dict(zip(generator.classes_, generator.info_.class_counts, strict=True))
    out = Path(args.out)
    image = generator.info_.modality == "image"
    allowed = (".npz",) if image else (".csv", ".parquet")
    if out.suffix.lower() not in allowed:
        raise AugmentError(f"--out for {generator.info_.modality} samples must end in "
                           f"{' or '.join(allowed)}, got {out.name!r}")
    # a file with our counts sidecar beside it was written by `augment sample`
    check_file_writable(out, force=args.force, ours=requested_counts_path(out).is_file())
    selection = None
    if args.auto:
        selection = _auto_selection(generator, args, seed)
        print(selection)
        if not selection.helps:
            print(f"no rows written: real rows only (do no harm); {out} untouched")
            return 0
        counts = selection.counts
    elif args.real or args.holdout:
        raise AugmentError("--real and --holdout are the rows --auto measures on; pass --auto too")
    elif args.counts:
        counts = parse_counts(args.counts)
    elif args.ratio is not None:
        counts = policy_counts(train_counts, "ratio", ratio=args.ratio)
    else:
        counts = policy_counts(train_counts, "balance", ratio=args.balance)
    X, y = generator.sample(counts, seed=seed)
    # The sidecar first: a kill between the two leaves a samples file with its sidecar
    # (recognised as ours by the rerun) or no samples file, never a file that looks foreign.
    write_json(requested_counts_path(out), {str(c): int(n) for c, n in counts.items()})
    if selection is not None:
        write_json(selection_path(out), selection.to_dict())
    with atomic_file(out) as tmp:
        write_labelled(tmp, X, y, generator.target_)
    if image:
        from augment.plots import image_grid

        t = generator.transformer_
        for label in dict.fromkeys(y.tolist()):
            grid = out.with_name(f"{out.stem}_{label}.png")
            image_grid(X[y == label][:50], grid, t.low_, t.high_)

    summary = ", ".join(f"{c}: {n}" for c, n in counts.items())
    print(f"sampled {len(y)} rows ({summary}) -> {out}")
    return 0


def _auto_selection(generator, args: argparse.Namespace, seed: int):
    """`--auto`: the Augmenter's choice of amount for `generator`, scored on --holdout
    (augmenter.select_amount, as the pipeline's sample.policy auto)."""
    from augment.augmenter import select_amount

    if not args.real or not args.holdout:
        raise AugmentError("--auto measures which amount helps: pass --real (the rows the model "
                           "was fitted on) and --holdout (real rows it never saw)")
    _, real = _read_labelled(args.real, args.target)
    _, holdout = _read_labelled(args.holdout, args.target)
    _like_training(real, holdout, "--holdout")
    holdout = _same_columns(real, holdout, "--holdout")
    known = {str(c) for c in generator.classes_}
    foreign = sorted({str(c) for c in real.y} - known)
    if foreign:
        raise AugmentError(f"--real has classes the model was not fitted on: {foreign}; pass the "
                           "rows the model was fitted on")
    return select_amount(generator, (real.X, real.y), (holdout.X, holdout.y), seed=seed)


def selection_path(samples: Path) -> Path:
    """Sidecar of `augment sample --auto`: every amount's figures and the choice."""
    return samples.with_name(samples.name + ".selection.json")


def requested_counts_path(samples: Path) -> Path:
    """Sidecar recording what a sample file was asked for, read by `augment validate`."""
    return samples.with_name(samples.name + ".counts.json")


def _read_labelled(path: str, target: str | None, args: argparse.Namespace | None = None):
    """A labelled file, with the command's --declare / --drop applied when it has them."""
    from augment.data.sources import load_dataset
    from augment.validate.gate import LabelledData

    overrides = _parse_overrides(getattr(args, "declare", None), getattr(args, "drop", None))
    ds = load_dataset(path, target=target, overrides=overrides or None, single_class_ok=True)
    return ds, LabelledData(ds.X, ds.y)


def _holdout_split(real: LabelledData, args: argparse.Namespace
                   ) -> tuple[LabelledData, LabelledData, str]:
    """(real rows to fit on, real holdout rows, where the holdout came from): the --holdout
    file, else a stratified 20% cut of `real` (LabelledData), with a warning on stderr."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from augment.validate.gate import LabelledData

    if args.holdout:
        _, holdout = _read_labelled(args.holdout, args.target, args)
        source = f"--holdout {args.holdout}"
    else:
        labels, per_class = np.unique(np.asarray(real.y).astype(str), return_counts=True)
        if per_class.min() < 2 or len(real.y) * 0.2 < len(labels):
            shown = dict(zip(labels.tolist(), per_class.tolist(), strict=True))
            raise AugmentError(f"--real has {len(real.y)} rows ({shown} per class): too few to "
                               "cut a 20% holdout "
                               "with every class; pass --holdout with real rows the generator "
                               "never saw")
        idx = np.arange(len(real.y))
        fit_idx, hold_idx = train_test_split(idx, test_size=0.2, stratify=real.y, random_state=0)
        pick = (lambda X, i: X.iloc[i].reset_index(drop=True)) if real.is_table else (
            lambda X, i: X[i])
        holdout = LabelledData(pick(real.X, hold_idx), real.y[hold_idx])
        real = LabelledData(pick(real.X, fit_idx), real.y[fit_idx])
        source = "20% cut from --real (no --holdout given)"
        print("WARNING: no --holdout given: 20% of the --real rows are held out as the 'new real "
              "rows' baseline. If the generator was trained on those rows, copies of them pass the "
              "privacy checks unseen and the figures are optimistic. Pass --holdout with real rows "
              "the generator never saw.", file=sys.stderr)
    return real, holdout, source


def _class_counts(y: np.ndarray) -> dict[str, int]:
    """{class as text: rows} of labels `y` [N], classes sorted as text."""
    import numpy as np

    names, numbers = np.unique(np.asarray(y).astype(str), return_counts=True)
    return dict(zip(names.tolist(), numbers.tolist(), strict=True))


def cmd_validate(args: argparse.Namespace) -> int:
    from augment.config import from_dict
    from augment.io import check_writable
    from augment.sampling import parse_counts, read_counts_file
    from augment.validate.gate import GateConfig, run_gate

    try:
        config = from_dict(GateConfig, _project_params(args).get("validate"), where="validate")
    except ConfigError as err:
        raise ConfigError(f"{project_source(args)}: {err}") from err
    check_writable(args.out, "gate", force=args.force)  # before the (slow) gate runs
    real_ds, real = _read_labelled(args.real, args.target, args)
    _, syn = _read_labelled(args.synthetic, args.target, args)
    real, holdout, source = _holdout_split(real, args)
    sidecar = requested_counts_path(Path(args.synthetic))
    if args.counts:
        requested = parse_counts(args.counts)
    elif sidecar.is_file():
        requested = read_counts_file(sidecar)
    else:
        requested = _class_counts(syn.y)
        print("note: no --counts and no sidecar counts file: class counts are not checked")
    report = run_gate(real, syn, holdout, requested, args.out, config, schema=real_ds.schema,
                      target=real_ds.target or "label", holdout_source=source, force=args.force)
    print(report.summary())
    return 0 if report.passed else 1


def _named_paths(pairs: Sequence[str] | None) -> dict[str, str]:
    named = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise AugmentError(f"--synthetic expects NAME=PATH, got {pair!r}")
        if name in ("real_only", "smote", "classic") or name in named:
            raise AugmentError(f"--synthetic name {name!r} is taken; pick another")
        named[name] = path
    return named


def _like_training(real, other, what: str) -> None:
    """Raise naming the difference when `other` does not share `real`'s columns or image
    shape, or has classes `real` lacks."""
    import numpy as np

    if real.is_table != other.is_table:
        raise AugmentError(f"{what} is {'a table' if other.is_table else 'images'} but the real "
                           f"training data is {'a table' if real.is_table else 'images'}")
    if real.is_table:
        missing = [c for c in real.X.columns if c not in other.X.columns]
        if missing:
            raise AugmentError(f"{what} lacks the real training columns {missing}")
    elif real.X.shape[1:] != other.X.shape[1:]:
        raise AugmentError(f"{what} has images of shape {other.X.shape[1:]}, the real training "
                           f"images are {real.X.shape[1:]}")
    labels = lambda data: set(np.asarray(data.y).astype(str).tolist())  # noqa: E731
    unseen = sorted(labels(other) - labels(real))
    if unseen:
        raise AugmentError(f"{what} has classes the training data lacks: {unseen}")


def _same_columns(real: LabelledData, other: LabelledData, what: str) -> LabelledData:
    """`other` with `real`'s columns in `real`'s order; extra columns are an error (tables;
    images are returned as they are). Run after `_like_training`."""
    from augment.validate.gate import LabelledData

    if not real.is_table:
        return other
    extra = [c for c in other.X.columns if c not in real.X.columns]
    if extra:
        raise AugmentError(f"{what} has columns the real training data lacks: {extra}")
    return LabelledData(other.X[list(real.X.columns)], other.y)


def _model_fits(model: Any, real: LabelledData, syn: LabelledData, what: str) -> None:
    """Raise naming the difference when generator `model` was fitted on other columns, image
    shape or modality than `real`, or lacks a class of `syn`."""
    if (model.info_.modality == "table") != real.is_table:
        raise AugmentError(f"{what} models {model.info_.modality}s but the real training data is "
                           f"{'a table' if real.is_table else 'images'}")
    if real.is_table:
        names = list(model.transformer_.schema_.names)
        if set(names) != set(real.X.columns):
            raise AugmentError(f"{what} was fitted on the columns {names}; the real training data "
                               f"has {list(real.X.columns)}")
    elif tuple(model.transformer_.shape_) != tuple(real.X.shape[1:]):
        raise AugmentError(f"{what} makes images of shape {tuple(model.transformer_.shape_)}; the "
                           f"real training images are {tuple(real.X.shape[1:])}")
    unseen = sorted(set(_class_counts(syn.y)) - {str(c) for c in model.classes_})
    if unseen:
        raise AugmentError(f"--synthetic has classes {what} lacks: {unseen}")


def _filter_inputs(args: argparse.Namespace, anomaly: bool
                   ) -> tuple[Any, Dataset, LabelledData, dict[str, int]]:
    """(model or None, the --real Dataset, --synthetic rows with --real's columns, the counts
    to fill) of `augment filter`, each checked against --real; `anomaly`: the anomaly filter
    is on (a VAE --model scores the --real rows, so it needs all their classes)."""
    from augment.generators import load_generator
    from augment.sampling import read_counts_file

    model = load_generator(args.model) if args.model else None
    real_ds, real = _read_labelled(args.real, args.target, args)
    _, syn = _read_labelled(args.synthetic, args.target, args)
    _like_training(real, syn, f"--synthetic {args.synthetic}")
    syn = _same_columns(real, syn, f"--synthetic {args.synthetic}")
    counts = _class_counts(syn.y)
    if model is None:
        return model, real_ds, syn, counts
    _model_fits(model, real, syn, f"--model {args.model}")
    missing = sorted(set(_class_counts(real.y)) - {str(c) for c in model.classes_})
    if anomaly and model.name == "vae" and missing:
        raise AugmentError(f"the anomaly filter scores the --real rows with --model {args.model} "
                           f"(a VAE), which lacks their classes {missing}; pass a VAE fitted on "
                           "--real, or another --model")
    sidecar = requested_counts_path(Path(args.synthetic))
    if sidecar.is_file():  # what `augment sample` was asked for
        counts = read_counts_file(sidecar)
        unknown = sorted(set(counts) - {str(c) for c in model.classes_})
        if unknown:
            raise AugmentError(f"{sidecar} asks for classes --model {args.model} lacks: {unknown}")
    return model, real_ds, syn, counts


def cmd_filter(args: argparse.Namespace) -> int:
    from augment.config import SEED, check_range, from_dict, generator_params
    from augment.data.storage import write_samples
    from augment.generators import get_generator
    from augment.io import atomic_dir, check_writable, write_json
    from augment.threads import configure_threads
    from augment.validate.filter_config import FilterConfig
    from augment.validate.filters import build_filters, filter_sample, fit_filters, summary_payload
    from augment.validate.gate import LabelledData

    params, source = _project_params(args), project_source(args)
    try:  # an error in the file names the file
        config = from_dict(FilterConfig, params.get("filter"), where="filter")
        vae_params = generator_params(params, "vae")
        if config.anomaly.enabled and vae_params:
            get_generator("vae", **vae_params)  # a bad train.vae key fails before any work
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from err
    if not config.enabled:
        raise AugmentError(f"nothing to do: every filter is off in {source}")
    check_range(args.seed, SEED, "--seed")
    check_writable(args.out, "filtered", force=args.force)  # before the (slow) fits
    model, real_ds, syn, counts = _filter_inputs(args, config.anomaly.enabled)
    real = LabelledData(real_ds.X, real_ds.y)
    fit, holdout, holdout_source = _holdout_split(real, args)
    if args.holdout:
        _like_training(fit, holdout, f"--holdout {args.holdout}")
        holdout = _same_columns(fit, holdout, f"--holdout {args.holdout}")

    configure_threads()
    filters = fit_filters(build_filters(config, model, vae_params), fit, holdout)
    X, y, summary, dropped = filter_sample(model, counts, args.seed, filters, config,
                                           first=(syn.X, syn.y))
    recorded = {"holdout": holdout_source, "refill": "--model" if model is not None else "none",
                "nearest_train_row": f"a row of {args.real}"}
    if config.anomaly.enabled:
        recorded["anomaly_model"] = ("the --model VAE" if getattr(model, "name", None) == "vae"
                                     else "a VAE trained on --real")
    # nearest rows among every --real row, so the index is a row of the file the user has
    payload = summary_payload(summary, dropped, real.X, recorded)
    with atomic_dir(args.out, "filtered", force=args.force) as tmp:
        kept = None if dropped[0] is None else (dropped[0], dropped[1])
        samples = write_samples(tmp, X, y, real_ds.target or "label", counts, payload, kept)
        write_json(requested_counts_path(samples), counts)  # what `augment validate` reads
    _print_filtered(summary.to_dict(), args.out)
    return 0


def _print_filtered(summary: dict[str, Any], out: str) -> None:
    """One line per filter (threshold, real holdout pass rate, share dropped), the total,
    and the classes left short."""
    for name, f in summary["filters"].items():
        print(f"{name:<13} threshold {f['threshold']:.4g}, real holdout rows passing "
              f"{f['holdout_pass']:.1%}, dropped {f['share_all']:.1%} of the rows "
              f"({sum(f['flagged'].values())})")
    drawn, lost = sum(summary["drawn"].values()), sum(summary["dropped"].values())
    kept, wanted = summary["kept"], summary["requested"]
    share = f" ({lost / drawn:.1%})" if drawn else ""
    print(f"total         dropped {lost} of {drawn} rows{share} in {summary['rounds']} refill "
          f"round(s); kept {sum(kept.values())} of {sum(wanted.values())} requested -> {out}")
    short = {c: f"{kept[c]}/{n}" for c, n in wanted.items() if kept[c] < n}
    if short:
        print(f"note: classes short of their count (nothing to refill from without --model): "
              f"{', '.join(f'{c} {k}' for c, k in short.items())}")


def _baseline_counts(labels, synthetic: dict, requested: dict | None, text: str | None) -> dict:
    """Rows per class the baselines add, keyed like `labels`: `--counts` if given, else what
    the first synthetic set was asked for (`requested`) or holds, else the balance policy."""
    import numpy as np

    from augment.sampling import parse_counts, policy_counts

    if text:
        requested = parse_counts(text)
    elif requested is None and synthetic:
        requested = _class_counts(next(iter(synthetic.values()))[1])
    elif requested is None:
        requested = policy_counts(_class_counts(labels), "balance")
    by_name = {str(c): c for c in np.unique(labels).tolist()}
    wrong = sorted(set(requested) - set(by_name))
    if wrong:
        raise AugmentError(f"counts name classes the training data lacks: {wrong}")
    return {by_name[name]: int(n) for name, n in requested.items()}


def _is_scores_file(path: Path) -> bool:
    """A JSON file written by `augment evaluate` (it holds our score keys)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(payload, dict) and {"scores", "delta_macro_f1"} <= set(payload)


def cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from augment.classifiers import CLASSIFIERS
    from augment.config import SEED, check_range
    from augment.downstream import (
        compare,
        macro_f1_change,
        plot_scores,
        training_sets,
    )
    from augment.io import check_file_writable, write_json
    from augment.sampling import read_counts_file

    unknown = [c for c in args.classifier or [] if c not in CLASSIFIERS]
    if unknown:
        raise AugmentError(f"unknown classifier {unknown[0]!r}; use {', '.join(CLASSIFIERS)}")
    for seed in args.seeds:
        check_range(seed, SEED, "--seeds")

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise AugmentError(f"--out must be a .json file, got {out.name!r}")
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise AugmentError(f"--plot must be a .png file, got {Path(args.plot).name!r}")
    check_file_writable(out, force=args.force, ours=_is_scores_file(out))
    if args.plot:
        check_file_writable(args.plot, force=args.force, ours=_is_scores_file(out))
    _, train = _read_labelled(args.real, args.target, args)
    _, test = _read_labelled(args.test, args.target, args)
    _like_training(train, test, f"--test {args.test}")
    synthetic, requested = {}, None
    for name, path in _named_paths(args.synthetic).items():
        _, syn = _read_labelled(path, args.target, args)
        _like_training(train, syn, f"--synthetic {name}")
        synthetic[name] = (syn.X, syn.y)
        sidecar = requested_counts_path(Path(path))
        if requested is None and sidecar.is_file():
            requested = read_counts_file(sidecar)
    labels = np.asarray(train.y)
    counts = _baseline_counts(labels, synthetic, requested, args.counts)
    classifiers = args.classifier or (["hist_gradient_boosting", "random_forest"] if train.is_table
                                      else ["random_forest", "cnn"])
    sets = training_sets(train.X, labels, synthetic, counts, seed=0)
    scores = compare(sets, (test.X, test.y), classifiers, args.seeds)
    change = macro_f1_change(scores)
    write_json(out, {"classifiers": classifiers, "seeds": args.seeds, "test_rows": len(test.y),
                     "counts_added": {str(c): n for c, n in counts.items()},
                     "scores": scores, "delta_macro_f1": change})
    if args.plot:
        plot_scores(scores, Path(args.plot), title=Path(args.real).stem)
    print(f"{'training set':<14}" + "".join(f"{c:>26}" for c in classifiers))
    for name, row in scores.items():
        cells = "".join(f"{row[c]['macro_f1']['mean']:>19.4f} ± {row[c]['macro_f1']['sd']:.3f}"
                        for c in classifiers)
        print(f"{name:<14}{cells}")
    print(f"test macro-F1, mean ± sd over seeds {args.seeds} -> {out}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from augment.publish import publish_version

    tag = publish_version(args.dataset, repo=args.repo, push=not args.no_push)
    print(f"published {args.dataset} as {tag}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="augment",
        description="Class-conditional synthetic data augmentation: fit generators, sample "
        "exact per-class counts, validate and publish.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("datasets", help="list builtin datasets")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("inspect", help="print schema, class counts and fingerprint of a dataset")
    p.add_argument("source", help="builtin:NAME, a .csv/.parquet/.npz file or an image folder")
    p.add_argument("--target", help="label column of a table")
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND",
                   help="declare a column's kind: continuous|integer|categorical|datetime")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("fit", help="train a generator and save it to a model folder")
    p.add_argument("--data", required=True, help="dataset source (as for inspect)")
    p.add_argument("--target", help="label column of a table")
    p.add_argument("--generator", required=True,
                   help=f"family: {' | '.join(available_generators())}")
    p.add_argument("--out", required=True, help="model folder to write (a new or empty folder, or a "
                   "model folder written before)")
    p.add_argument("--params", help="parameter file whose train.<family> section is the base "
                   "(default: ./params.yaml when present)")
    p.add_argument("--force", action="store_true", help="replace whatever is at --out")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="hyperparameter (repeatable)")
    p.add_argument("--seed", type=int)
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND", help="declare a column's kind")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("sample", help="sample exact per-class counts from a saved generator")
    p.add_argument("--model", required=True, help="model folder written by `augment fit`")
    policy = p.add_mutually_exclusive_group(required=True)
    policy.add_argument("--balance", nargs="?", type=float, const=1.0, metavar="SHARE",
                        help="raise every class to the largest (or to SHARE x the largest)")
    policy.add_argument("--ratio", type=float, metavar="K", help="K new rows per real row of each class")
    policy.add_argument("--counts", metavar="A=N,B=M", help="explicit rows per class")
    policy.add_argument("--auto", action="store_true",
                        help="measure the amount (balance or ratio 0.5 / 1) that raises --holdout "
                             "macro-F1 most beyond its noise; none helps: no rows written")
    p.add_argument("--real", help="--auto: the rows the model was fitted on (.csv/.parquet/.npz)")
    p.add_argument("--holdout", help="--auto: real rows the model never saw, same format")
    p.add_argument("--target", help="--auto: label column of tables")
    p.add_argument("--out", required=True, help=".csv/.parquet for tables, .npz for images")
    p.add_argument("--seed", type=int, help="sampling seed (default: sample.seed of the params, else 0)")
    p.add_argument("--params", help="parameter file (default: ./params.yaml when present)")
    p.add_argument("--force", action="store_true", help="overwrite a file at --out")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("validate", help="run the validation gate on a synthetic set (exit 1 = fail)")
    p.add_argument("--real", required=True, help="real training split (.csv/.parquet/.npz)")
    p.add_argument("--synthetic", required=True, help="synthetic rows, same format")
    p.add_argument("--holdout", help="real rows the generator never saw (default: 20%% cut from "
                   "--real, with a warning)")
    p.add_argument("--target", help="label column of tables")
    p.add_argument("--counts", metavar="A=N,B=M", help="rows per class that were requested")
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND", help="declare a column's kind")
    p.add_argument("--out", required=True, help="report folder (new, empty, or a report written before)")
    p.add_argument("--params", help="parameter file whose validate section sets the thresholds "
                   "(default: ./params.yaml when present, else the built-in defaults)")
    p.add_argument("--force", action="store_true", help="replace whatever is at --out")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("filter", help="drop the synthetic rows the per-row filters flag "
                       "(anomaly, memorisation, label); with --model, draw replacements")
    p.add_argument("--real", required=True, help="real training rows (.csv/.parquet/.npz): what "
                   "the filters learn")
    p.add_argument("--synthetic", required=True, help="synthetic rows to filter, same format")
    p.add_argument("--holdout", help="real rows the generator never saw, to calibrate the filter "
                   "thresholds on (default: 20%% cut from --real, with a warning)")
    p.add_argument("--model", help="model folder that made --synthetic: dropped rows are replaced "
                   "by its draws so the class counts stay exact (those of the --synthetic file's "
                   ".counts.json when present); a VAE trained on --real is reused as the anomaly "
                   "model")
    p.add_argument("--seed", type=int, default=1, help="seed of the replacement draws (default 1)")
    p.add_argument("--target", help="label column of tables")
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND", help="declare a column's kind")
    p.add_argument("--out", required=True, help="folder for the kept rows, requested.json, "
                   "filters.json and the worst dropped rows (new, empty, or written by filter before)")
    p.add_argument("--params", help="parameter file whose filter section sets the filters and "
                   "train.vae the anomaly VAE (default: ./params.yaml when present, else the "
                   "built-in defaults)")
    p.add_argument("--force", action="store_true", help="replace whatever is at --out")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("evaluate", help="downstream macro-F1: real only vs SMOTE, classic and "
                       "synthetic augmentation")
    p.add_argument("--real", required=True, help="real training split (.csv/.parquet/.npz)")
    p.add_argument("--test", required=True, help="real test split, same format")
    p.add_argument("--synthetic", action="append", metavar="NAME=PATH",
                   help="a generator's new rows (repeatable), e.g. vae=vae.csv")
    p.add_argument("--target", help="label column of tables")
    p.add_argument("--counts", metavar="A=N,B=M", help="rows per class the baselines add "
                   "(default: what the first --synthetic file asked for, else balance)")
    p.add_argument("--classifier", action="append", metavar="NAME",
                   help="random_forest | hist_gradient_boosting | cnn (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--drop", action="append", metavar="COLUMN", help="drop a column (repeatable)")
    p.add_argument("--declare", action="append", metavar="COLUMN=KIND", help="declare a column's kind")
    p.add_argument("--out", required=True, help="scores as JSON")
    p.add_argument("--plot", help="bar chart of the scores (.png)")
    p.add_argument("--force", action="store_true", help="overwrite files at --out / --plot")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("publish", help="tag data/published/DATASET as the next version, push to DVC")
    p.add_argument("dataset")
    p.add_argument("--repo", default=".", help="the git + DVC repository (default: here)")
    p.add_argument("--no-push", action="store_true", help="tag only; do not `dvc push`")
    p.set_defaults(func=cmd_publish)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except AugmentError as err:
        print(f"augment: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:  # an optional package of an extra is not installed
        from augment.extras import missing_extra_message

        message = missing_extra_message(err)
        if message is None:
            raise
        print(f"augment: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("augment: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `augment inspect ... | head`: the reader left; say nothing
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
