"""Benchmark every generator: fit time, sampling speed and TSTR macro-F1.

    python -m bench.generators [--generators vae gan diffusion] [--datasets digits adult]

Writes bench/results/generators.json and prints a table. Real-data reference: the
same forest trained on the real training split.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from augment.generators import get_generator
from bench.common import adult_split, digits_split, machine, real_macro_f1, sample_speed, tstr

RESULTS = Path(__file__).parent / "results" / "generators.json"


def run(generators: list[str], datasets: list[str], params: dict) -> dict:
    results: dict = {"machine": {**machine(), "python": platform.python_version(),
                                 "torch": torch.__version__}}
    for dataset in datasets:
        X_tr, X_te, y_tr, y_te = digits_split() if dataset == "digits" else adult_split()
        row = {"real_macro_f1": round(real_macro_f1(X_tr, y_tr, X_te, y_te), 4)}
        print(f"{dataset}: real-trained macro-F1 {row['real_macro_f1']}", flush=True)
        for name in generators:
            gen = get_generator(name, **params.get(name, {}))
            scores = tstr(gen, X_tr, y_tr, X_te, y_te)
            scores["sample_10k_s"] = round(sample_speed(gen), 2)
            row[name] = scores
            print(f"  {name:<10} {scores}", flush=True)
        results[dataset] = row
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion", "autoregressive"])
    parser.add_argument("--datasets", nargs="+", default=["digits", "adult"])
    parser.add_argument("--params", default="{}", help='JSON {"vae": {"epochs": 10}}')
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for key, value in run(args.generators, args.datasets, json.loads(args.params)).items():
        # what was not run keeps its earlier figures
        results[key] = {**results.get(key, {}), **value} if key != "machine" else value
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
