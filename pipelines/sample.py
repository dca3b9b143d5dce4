"""Stage `sample`: draw the class counts of the policy from one trained generator.

    python -m pipelines.sample --dataset digits --generator diffusion

Writes data/synthetic/<ds>/<gen>/ with samples.parquet (tables: features + target) or
samples.npz (images: X, y) and requested.json (rows asked for per class).
"""

from __future__ import annotations

import sys

import numpy as np

from augment.data.storage import write_labelled
from augment.generators import load_generator
from augment.io import atomic_dir, write_json
from augment.sampling import policy_counts
from augment.threads import configure_threads
from augment.workspace import REQUESTED_FILE, SAMPLES_IMAGES, SAMPLES_TABLE, Workspace
from pipelines.common import stage_main
from pipelines.params import sample_params


def requested_counts(dataset: str, params: dict, train_counts: dict) -> dict:
    """Rows per class the sample policy asks for (a dataset's `sample` overrides the global)."""
    sp = sample_params(params, dataset)
    return policy_counts(train_counts, sp.policy, sp.ratio, sp.counts)


def sample(ws: Workspace, dataset: str, generator: str, params: dict) -> str:
    configure_threads()
    model = load_generator(ws.model(dataset, generator))
    train_counts = dict(zip(model.classes_, model.info_.class_counts, strict=True))
    counts = requested_counts(dataset, params, train_counts)
    X, y = model.sample(counts, seed=sample_params(params, dataset).seed)
    out = ws.synthetic(dataset, generator)
    with atomic_dir(out, "synthetic") as tmp:
        name = SAMPLES_IMAGES if isinstance(X, np.ndarray) else SAMPLES_TABLE
        write_labelled(tmp / name, X, y, model.target_)
        write_json(tmp / REQUESTED_FILE, {str(c): int(n) for c, n in counts.items()})
    return f"sampled {len(y)} rows from {generator} for {dataset} -> {out}"


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__.splitlines()[0], sample, argv)


if __name__ == "__main__":
    sys.exit(main())
