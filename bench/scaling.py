"""Fit time against rows and columns: Adult at 1x / 4x / 16x its rows and 1x / 2x / 4x its
columns, one epoch per fit (no step minimum), every family.

    python -m bench.scaling [--families vae gan ...] [--rows 1 4 16] [--columns 1 2 4]

Rows are scaled by stacking copies of the training split, each copy's numeric columns
jittered by 1% of their standard deviation (so the encoders see new values); columns by
adding renamed copies of every column, jittered the same way. One epoch is
rows / batch_size optimizer steps, so a fit of E epochs costs E times the figure here
plus the encoder's fit. Writes bench/results/scaling.json (with the machine's cores and
load) and bench/results/scaling.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augment.generators import get_generator
from bench.common import adult_split, machine

RESULTS = Path(__file__).parent / "results" / "scaling.json"
PLOT = RESULTS.with_suffix(".png")
FAMILIES = ("vae", "gan", "diffusion", "autoregressive")


def jittered(X: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """X with every float or integer column moved by N(0, (0.01 sd)^2) (integers rounded)."""
    out = X.copy()
    for name in X.columns:
        column = X[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            noise = rng.normal(0.0, 0.01 * float(column.std() or 1.0), len(column))
            moved = column.to_numpy(dtype=float) + noise
            integer = pd.api.types.is_integer_dtype(column)
            out[name] = np.round(moved).astype(column.dtype) if integer else moved
    return out


def scaled(X: pd.DataFrame, y: np.ndarray, rows: int, columns: int, seed: int = 0
           ) -> tuple[pd.DataFrame, np.ndarray]:
    """Adult's training split with `rows` times the rows and `columns` times the columns."""
    rng = np.random.default_rng(seed)
    wide = pd.concat([X] + [jittered(X, rng).add_suffix(f"_{k}") for k in range(1, columns)], axis=1)
    tall = pd.concat([wide] + [jittered(wide, rng) for _ in range(1, rows)], ignore_index=True)
    return tall, np.tile(y, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--rows", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--columns", nargs="+", type=int, default=[1, 2, 4])
    args = parser.parse_args()
    X_tr, _, y_tr, _ = adult_split()
    results: dict = {"machine": machine(), "base_rows": len(y_tr), "base_columns": X_tr.shape[1],
                     "fit_s": {}}
    grid = [(r, 1) for r in args.rows] + [(1, c) for c in args.columns if c != 1]
    for rows, columns in grid:
        X, y = scaled(X_tr, y_tr, rows, columns)
        key = f"rows x{rows}, columns x{columns}"
        results["fit_s"][key] = {}
        for family in args.families:
            gen = get_generator(family, epochs=1, min_steps=0, progress="never")
            start = time.perf_counter()
            gen.fit(X, y)
            seconds = time.perf_counter() - start
            results["fit_s"][key][family] = round(seconds, 2)
            print(f"{key:<24} {len(y):>8,} rows {X.shape[1]:>3} columns  {family:<15} {seconds:7.1f} s",
                  flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    plot(results, args.families)
    print(f"wrote {RESULTS} and {PLOT}")


def plot(results: dict, families: list[str]) -> None:
    """Fit seconds against the scale factor, rows and columns side by side, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, axis in zip(axes, ("rows", "columns"), strict=True):
        points = []
        for key, times in results["fit_s"].items():
            rows, columns = (int(part.split("x")[1]) for part in key.split(", "))
            factor = rows if axis == "rows" else columns
            if (axis == "rows" and columns == 1) or (axis == "columns" and rows == 1):
                points.append((factor, times))
        points.sort(key=lambda p: p[0])
        factors = [p[0] for p in points]
        for family in families:
            ax.plot(factors, [p[1][family] for p in points], marker="o", label=family)
        if factors:
            base = min(p[1][f] for p in points[:1] for f in families)
            ax.plot(factors, [base * f / factors[0] for f in factors], "k--", lw=0.8, label="linear")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(f"Adult {axis} x")
        ax.set_title(f"one epoch, {axis} scaled")
    axes[0].set_ylabel("fit seconds")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


if __name__ == "__main__":
    main()
