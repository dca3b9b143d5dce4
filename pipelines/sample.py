"""Stage `sample`: draw the class counts of the policy from one trained generator, drop
the rows the per-row filters flag and draw replacements, so the counts stay exact.

    python -m pipelines.sample --dataset digits --generator diffusion

Writes data/synthetic/<ds>/<gen>/ with samples.parquet (tables: features + target) or
samples.npz (images: X, y) and requested.json (rows asked for per class); with filters on
(params.yaml `filter`), also filters.json (each filter's threshold, the share of real
holdout rows it passes, the share of synthetic rows it dropped per class, and the worst
dropped rows with their nearest real training row) and dropped.{parquet,npz} (those rows).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from augment.config import generator_params
from augment.data.storage import read_split, write_samples
from augment.generators import load_generator
from augment.io import atomic_dir
from augment.sampling import policy_counts
from augment.threads import configure_threads
from augment.workspace import Workspace
from pipelines.common import stage_main
from pipelines.params import filter_params, sample_params


def requested_counts(dataset: str, params: dict, train_counts: dict) -> dict:
    """Rows per class the sample policy asks for (a dataset's `sample` overrides the global)."""
    sp = sample_params(params, dataset)
    return policy_counts(train_counts, sp.policy, sp.ratio, sp.counts)


def filtered(ws: Workspace, dataset: str, model: Any, counts: dict, seed: int, params: dict
             ) -> tuple[Any, np.ndarray, dict | None, tuple | None]:
    """(X, y, filters.json payload, (dropped X, dropped y)) of the request; the generator's
    own draw and None, None when every filter is off."""
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
    train = read_split(ws.split(dataset, "train"))
    val = read_split(ws.split(dataset, "val"))
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
    counts = requested_counts(dataset, params, train_counts)
    seed = sample_params(params, dataset).seed
    X, y, report, dropped = filtered(ws, dataset, model, counts, seed, params)
    out = ws.synthetic(dataset, generator)
    with atomic_dir(out, "synthetic") as tmp:
        write_samples(tmp, X, y, model.target_, counts, report, dropped)
    note = ""
    if report is not None:
        drawn, lost = sum(report["drawn"].values()), sum(report["dropped"].values())
        note = f" (filters dropped {lost} of {drawn} drawn, {lost / drawn:.1%})" if drawn else ""
    return f"sampled {len(y)} rows from {generator} for {dataset}{note} -> {out}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], sample, argv)


if __name__ == "__main__":
    sys.exit(main())
