"""Stage `sample`: draw the class counts of the policy from one trained generator, drop
the rows the per-row filters flag and draw replacements, so the counts stay exact.

    python -m pipelines.sample --dataset digits --generator diffusion

Writes data/synthetic/<ds>/<gen>/ with samples.parquet (tables: features + target) or
samples.npz (images: X, y) and requested.json (rows asked for per class); with filters on
(params.yaml `filter`), also filters.json (each filter's threshold, the share of real
holdout rows it passes, the share of synthetic rows it dropped per class, and the worst
dropped rows with their nearest real training row) and dropped.{parquet,npz} (those rows).
With `sample.policy: auto`, also selection.json: every amount of sampling.SEARCH_AMOUNTS
scored against real rows only on the validation split (augment.augmenter.select_amount,
the Augmenter's comparison), the choice and the reason. When no amount raises validation
macro-F1 beyond its noise, the branch still samples the amount that came closest, so the
gate judges it, and publish leaves it out (verdict.select).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from augment.config import generator_params
from augment.data.storage import read_split, write_labelled, write_samples
from augment.generators import load_generator
from augment.generators.base import SAMPLE_BLOCK
from augment.io import atomic_dir, atomic_file, write_json
from augment.sampling import policy_counts, strategy_counts
from augment.threads import configure_threads
from augment.workspace import SELECTION_FILE, Workspace
from pipelines.common import stage_main
from pipelines.params import filter_params, sample_params


def requested_counts(dataset: str, params: dict, train_counts: dict) -> dict:
    """Rows per class the sample policy asks for (a dataset's `sample` overrides the global);
    under the auto policy, which is measured per generator (`auto_counts`), full balance."""
    sp = sample_params(params, dataset)
    if sp.policy == "auto":
        return policy_counts(train_counts, "balance", 1.0)
    return policy_counts(train_counts, sp.policy, sp.ratio, sp.counts)


def auto_counts(model: Any, train: Any, val: Any, seed: int, train_counts: dict
                ) -> tuple[dict, dict]:
    """(rows per class, selection.json payload) of the auto policy for one trained model
    and the train / val splits: the chosen amount, else the one that came closest (the
    payload says it does not help)."""
    from augment.augmenter import select_amount

    report = select_amount(model, (train.X, train.y), (val.X, val.y), seed=seed)
    amount = report.amount if report.helps else report.candidate(report.best).amount
    return strategy_counts(train_counts, amount), report.to_dict()


def filtered(model: Any, counts: dict, seed: int, params: dict, splits: tuple | None,
             first: tuple[Any, np.ndarray]) -> tuple[Any, np.ndarray, dict | None, tuple | None]:
    """(X, y, filters.json payload, (dropped X, dropped y)) of the request, whose first draw
    `first` = model.sample(counts, seed) is given (drawn whole or gathered from shards);
    `first` itself and None, None when every filter is off. `splits`: the (train, val)
    splits the filters are calibrated on (None only when every filter is off)."""
    from augment.validate.filters import (
        build_filters,
        filter_sample,
        fit_filters,
        summary_payload,
    )
    from augment.validate.gate import LabelledData

    config = filter_params(params)
    if not config.enabled:
        return *first, None, None
    train, val = splits
    filters = fit_filters(build_filters(config, model, generator_params(params, "vae")),
                          LabelledData(train.X, train.y), LabelledData(val.X, val.y))
    X, y, summary, dropped = filter_sample(model, counts, seed, filters, config, first=first,
                                           strict=False)
    about = {}
    if config.anomaly.enabled:
        about["anomaly_model"] = ("the generator" if model.name == "vae"
                                  else "a VAE trained on the training split (train.vae)")
    payload = summary_payload(summary, dropped, train.X, about)
    X_drop, y_drop, _ = dropped
    return X, y, payload, (None if X_drop is None else (X_drop, y_drop))


def needs_splits(params: dict, dataset: str) -> bool:
    """Whether sampling reads the train / val splits (the auto policy, the filters)."""
    return sample_params(params, dataset).policy == "auto" or filter_params(params).enabled


def plan(ws: Workspace, dataset: str, generator: str, params: dict, model: Any = None,
         splits: tuple | None = None) -> dict[str, Any]:
    """What one generator's sample is made of, before any row is drawn:
    {"counts": {class: rows}, "selection": the auto policy's payload or None,
    "shards": [[start, stop], ...]}: `sample.shards` block-aligned row ranges of the first
    draw, which `draw` makes independently and `finish` concatenates."""
    model = model or load_generator(ws.model(dataset, generator))
    sp = sample_params(params, dataset)
    train_counts = dict(zip(model.classes_, model.info_.class_counts, strict=True))
    selection = None
    if sp.policy == "auto":
        if splits is None:
            splits = read_split(ws.split(dataset, "train")), read_split(ws.split(dataset, "val"))
        counts, selection = auto_counts(model, *splits, sp.seed, train_counts)
    else:
        counts = requested_counts(dataset, params, train_counts)
    counts = {str(label): int(n) for label, n in counts.items()}
    return {"counts": counts, "selection": selection,
            "shards": [list(r) for r in shard_ranges(sum(counts.values()), sp.shards)]}


def shard_ranges(total: int, shards: int) -> list[tuple[int, int]]:
    """At most `shards` consecutive row ranges covering [0, total), each starting on a
    sample block (`SAMPLE_BLOCK` rows: the unit whose noise depends on the seed alone)."""
    blocks = max(1, math.ceil(total / SAMPLE_BLOCK))
    step = math.ceil(blocks / max(1, shards)) * SAMPLE_BLOCK
    return [(start, min(start + step, total)) for start in range(0, max(total, 1), step)]


def draw(ws: Workspace, dataset: str, generator: str, params: dict, counts: dict,
         rows: tuple[int, int], stem: Path) -> Path:
    """Rows [start, stop) of the first draw, `model.sample(counts, seed, rows)`, written
    atomically to `stem` + .parquet (tables) or .npz (images); returns that path."""
    configure_threads()
    model = load_generator(ws.model(dataset, generator))
    X, y = model.sample(counts, seed=sample_params(params, dataset).seed, rows=tuple(rows))
    out = stem.with_name(stem.name + (".npz" if isinstance(X, np.ndarray) else ".parquet"))
    with atomic_file(out) as tmp:
        write_labelled(tmp, X, y, model.target_)
    return out


def gather(ws: Workspace, dataset: str, parts: list[Path]) -> tuple[Any, np.ndarray]:
    """The first draw from its shard files, in order."""
    import pandas as pd

    train = read_split(ws.split(dataset, "train"))
    shards = [read_split(path, schema=train.schema if path.suffix == ".parquet" else None)
              for path in parts]
    if isinstance(shards[0].X, np.ndarray):
        X = np.concatenate([s.X for s in shards])
    else:
        X = pd.concat([s.X for s in shards], ignore_index=True)
    return X, np.concatenate([s.y for s in shards])


def finish(ws: Workspace, dataset: str, generator: str, params: dict, plan_: dict,
           first: tuple[Any, np.ndarray], model: Any = None, splits: tuple | None = None) -> str:
    """Filter the first draw (drawing replacements for the rows dropped) and write
    data/synthetic/<ds>/<gen>/; returns the stage's line."""
    configure_threads()
    model = model or load_generator(ws.model(dataset, generator))
    if splits is None and needs_splits(params, dataset):
        splits = read_split(ws.split(dataset, "train")), read_split(ws.split(dataset, "val"))
    counts, selection = plan_["counts"], plan_["selection"]
    X, y, report, dropped = filtered(model, counts, sample_params(params, dataset).seed, params,
                                     splits, first)
    out = ws.synthetic(dataset, generator)
    with atomic_dir(out, "synthetic") as tmp:
        write_samples(tmp, X, y, model.target_, counts, report, dropped)
        if selection is not None:
            write_json(tmp / SELECTION_FILE, selection)
    note = ""
    if report is not None:
        drawn, lost = sum(report["drawn"].values()), sum(report["dropped"].values())
        note = f" (filters dropped {lost} of {drawn} drawn, {lost / drawn:.1%})" if drawn else ""
    if selection is not None:
        note += (f"; auto chose {selection['chosen']}" if selection["helps"] else
                 f"; auto: no amount helps beyond noise (closest: {selection['best']}), not "
                 "to be published")
    return f"sampled {len(y)} rows from {generator} for {dataset}{note} -> {out}"


def sample(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    """The whole stage on one machine: plan, the first draw in one piece, finish."""
    configure_threads()
    model = load_generator(ws.model(dataset, generator))
    splits = None  # read once, for the auto policy and the filters alike
    if needs_splits(params, dataset):
        splits = read_split(ws.split(dataset, "train")), read_split(ws.split(dataset, "val"))
    plan_ = plan(ws, dataset, generator, params, model, splits)
    first = model.sample(plan_["counts"], seed=sample_params(params, dataset).seed)
    return finish(ws, dataset, generator, params, plan_, first, model, splits)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], sample, argv)


if __name__ == "__main__":
    sys.exit(main())
