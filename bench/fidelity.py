"""Fidelity by a peer's yardstick: SDMetrics' `QualityReport` (column shapes and column
pair trends) of each family's rows on Adult, as many synthetic rows as training rows.

SDMetrics is never a dependency of augment: it lives in a bench-only environment, and the
two steps run in separate interpreters, exchanging CSV files.

    # 1. our environment: fit (or load) each family on Adult's training split, write
    #    train.csv, holdout.csv (the real test split, the yardstick's ceiling) and
    #    <family>.csv (the training split's class counts, seed 1)
    .venv/bin/python -m bench.fidelity export --out /tmp/fidelity [--models DIR] [--seed 0]
    # 2. the bench-only environment (python3 -m venv .venv-peers;
    #    .venv-peers/bin/pip install sdmetrics): score every CSV against train.csv
    .venv-peers/bin/python -m bench.fidelity score --data /tmp/fidelity

Writes bench/results/fidelity.json (scores, SDMetrics' version, the machine's cores and
load). The score step imports nothing of augment, so this module's top level imports only
the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "fidelity.json"
FAMILIES = ("vae", "gan", "diffusion", "autoregressive")
TARGET = "class"


def export(out: Path, families: list[str], models: Path | None, seed: int) -> None:
    """Write train.csv, holdout.csv and <family>.csv (class counts of the training rows)."""
    import numpy as np

    from bench.augmenter import fitted
    from bench.common import adult_split

    X_tr, X_te, y_tr, y_te = adult_split()
    out.mkdir(parents=True, exist_ok=True)
    X_tr.assign(**{TARGET: y_tr}).to_csv(out / "train.csv", index=False)
    X_te.assign(**{TARGET: y_te}).to_csv(out / "holdout.csv", index=False)
    labels, numbers = np.unique(y_tr, return_counts=True)
    counts = dict(zip(labels.tolist(), numbers.tolist(), strict=True))
    timing = {}
    for family in families:
        gen, fit_s = fitted(family, seed, X_tr, y_tr, models, "adult")
        X_syn, y_syn = gen.sample(counts, seed=seed + 1)
        X_syn[X_tr.columns].assign(**{TARGET: y_syn}).to_csv(out / f"{family}.csv", index=False)
        timing[family] = fit_s
        fit = f"fit {fit_s} s" if fit_s is not None else f"loaded from {models}"
        print(f"  {family}: {len(y_syn)} rows ({fit})", flush=True)
    (out / "export.json").write_text(json.dumps({"seed": seed, "fit_s": timing, "counts": counts}))


def score(data: Path) -> None:
    """QualityReport of holdout.csv and every family's CSV against train.csv."""
    import warnings

    import pandas as pd
    import sdmetrics

    with warnings.catch_warnings():  # 0.32 calls the single-table report deprecated; the
        warnings.simplefilter("ignore", FutureWarning)  # unified one takes the same metrics
        from sdmetrics.reports.single_table import QualityReport

    real = pd.read_csv(data / "train.csv")
    metadata = {"columns": {c: {"sdtype": "numerical" if pd.api.types.is_numeric_dtype(real[c])
                                else "categorical"} for c in real.columns}}
    exported = json.loads((data / "export.json").read_text())
    scores = {}
    for name in ["holdout", *exported["fit_s"]]:
        rows = pd.read_csv(data / f"{name}.csv")
        start = time.perf_counter()
        report = QualityReport()
        report.generate(real, rows[real.columns], metadata, verbose=False)
        properties = report.get_properties().set_index("Property")["Score"]
        details = report.get_details("Column Shapes").set_index("Column")["Score"]
        scores[name] = {"column_shapes": round(float(properties["Column Shapes"]), 4),
                        "column_pair_trends": round(float(properties["Column Pair Trends"]), 4),
                        "overall": round(float(report.get_score()), 4), "rows": len(rows),
                        "report_s": round(time.perf_counter() - start, 1),
                        "shapes_by_column": {c: round(float(v), 4) for c, v in details.items()}}
        print(f"  {name}: shapes {scores[name]['column_shapes']:.4f}, pair trends "
              f"{scores[name]['column_pair_trends']:.4f}", flush=True)
    results = {"adult": scores, "seed": exported["seed"], "fit_s": exported["fit_s"],
               "sdmetrics": sdmetrics.__version__,
               "machine": {"cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser()
    steps = parser.add_subparsers(dest="step", required=True)
    ex = steps.add_parser("export", help="our environment: write the real and synthetic CSVs")
    ex.add_argument("--out", type=Path, required=True)
    ex.add_argument("--models", type=Path, help="reuse (and save) the families' fits here")
    ex.add_argument("--generators", nargs="+", default=list(FAMILIES))
    ex.add_argument("--seed", type=int, default=0)
    sc = steps.add_parser("score", help="the bench-only environment: SDMetrics QualityReport")
    sc.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "export":
        export(args.out, args.generators, args.models, args.seed)
    else:
        score(args.data)


if __name__ == "__main__":
    main()
