"""What every stage shares: artifact paths and the thin `main()` wrapper."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from augment.errors import AugmentError
from pipelines.params import load_params

PREPARED = Path("data/prepared")
MODELS = Path("models")
CHECKPOINTS = Path(".checkpoints")  # outside DVC outs: `dvc repro` deletes outs first
SYNTHETIC = Path("data/synthetic")
REPORTS = Path("reports")
PUBLISHED = Path("data/published")
METRICS = Path("metrics")
PLOTS = Path("plots/curves")


def gate_reports(dataset: str) -> Path:
    """reports/<ds>/gates/: one validation report folder per generator."""
    return REPORTS / dataset / "gates"


def prepared_split(dataset: str, split: str) -> Path:
    """data/prepared/<ds>/<split>.parquet or .npz, whichever exists."""
    for suffix in (".parquet", ".npz"):
        path = PREPARED / dataset / f"{split}{suffix}"
        if path.exists():
            return path
    raise AugmentError(f"no prepared {split} split for {dataset!r} under {PREPARED / dataset}; "
                       "run the prepare stage first")


def stage_main(description: str, run: Callable[..., object], argv: list[str] | None,
               with_generator: bool = True) -> int:
    """Parse --dataset [--generator] --params, call run(dataset, [generator,] params)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", required=True)
    if with_generator:
        parser.add_argument("--generator", required=True)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    try:
        params = load_params(args.params)
        extra = (args.generator,) if with_generator else ()
        result = run(args.dataset, *extra, params)
    except AugmentError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    if result is not None:
        print(result)
    return 0
