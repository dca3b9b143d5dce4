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

import sys
from typing import Any

import numpy as np

from augment.config import generator_params
from augment.data.storage import read_split, write_samples
from augment.generators import load_generator
from augment.io import atomic_dir, write_json
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


def filtered(model: Any, counts: dict, seed: int, params: dict, splits: tuple | None
             ) -> tuple[Any, np.ndarray, dict | None, tuple | None]:
    """(X, y, filters.json payload, (dropped X, dropped y)) of the request; the generator's
    own draw and None, None when every filter is off. `splits`: the (train, val) splits the
    filters are calibrated on (None only when every filter is off)."""
    from augment.validate.filters import (
        build_filters,
        filter_sample,
        fit_filters,
        summary_payload,
    )
    from augment.validate.gate import LabelledData

    config = filter_params(params)
    if not config.enabled:
        X, y = model.sample(counts, seed=seed)
        return X, y, None, None
    train, val = splits
    filters = fit_filters(build_filters(config, model, generator_params(params, "vae")),
                          LabelledData(train.X, train.y), LabelledData(val.X, val.y))
    X, y, summary, dropped = filter_sample(model, counts, seed, filters, config, strict=False)
    about = {}
    if config.anomaly.enabled:
        about["anomaly_model"] = ("the generator" if model.name == "vae"
                                  else "a VAE trained on the training split (train.vae)")
    payload = summary_payload(summary, dropped, train.X, about)
    X_drop, y_drop, _ = dropped
    return X, y, payload, (None if X_drop is None else (X_drop, y_drop))


def sample(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    configure_threads()
    model = load_generator(ws.model(dataset, generator))
    train_counts = dict(zip(model.classes_, model.info_.class_counts, strict=True))
    sp = sample_params(params, dataset)
    splits = None  # read once, for the auto policy and the filters alike
    if sp.policy == "auto" or filter_params(params).enabled:
        splits = read_split(ws.split(dataset, "train")), read_split(ws.split(dataset, "val"))
    selection = None
    if sp.policy == "auto":
        counts, selection = auto_counts(model, *splits, sp.seed, train_counts)
    else:
        counts = requested_counts(dataset, params, train_counts)
    X, y, report, dropped = filtered(model, counts, sp.seed, params, splits)
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


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], sample, argv)


if __name__ == "__main__":
    sys.exit(main())
