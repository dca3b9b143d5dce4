"""Augmenter benchmark: does the automatic choice never fall below real rows only, and
beat SMOTE?

    python -m bench.augmenter [--tasks digits digits-lowdata breast_cancer-thinned
        adult adult-half] [--seeds 0 1 2] [--generators ...] [--search] [--models DIR]

Tasks (bench/downstream.py's splits):
- digits: classes 5-9 thinned to 10% of their training rows, full balance.
- digits-lowdata: 20 training images per class, 2 new rows per real row.
- breast_cancer-thinned: the malignant class thinned to 25% of its training rows, full
  balance.
- adult / adult-half: the `>50K` class raised to the majority / to half of it.

Per task and seed (the seed of every generator, SMOTE, the Augmenter and the test
classifiers; the split is fixed): real only, real + SMOTE, real + each family at the
task's amount, and real + `Augmenter(generator="auto")` at the task's amount (or
`sampling_strategy="search"` with --search). Macro-F1 on the real test split with the
task's classifiers; mean and sd over seeds. The Augmenter's selection time is reported
beside its gain. Writes bench/results/augmenter.json after each task.

--models DIR saves each family's fit (per training set and seed) and reuses it when it is
there: adult and adult-half train on the same rows, so their families are fitted once
(fit_s then lists only the fits made in this run).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from augment.augmenter import Augmenter
from augment.data import make_dataset, thin_classes
from augment.downstream import compare, training_sets
from augment.sampling import strategy_counts
from bench.common import breast_cancer_split, machine
from bench.downstream import fitted as downstream_fitted
from bench.downstream import saved, scenario

RESULTS = Path(__file__).parent / "results" / "augmenter.json"
TASKS = ("digits", "digits-lowdata", "breast_cancer-thinned", "adult", "adult-half")
FAMILIES = ("vae", "gan", "diffusion", "autoregressive")


def task(name: str):
    """(X_train, y_train, X_test, y_test, classifiers, amount) of a task."""
    if name == "breast_cancer-thinned":
        X_tr, X_te, y_tr, y_te = breast_cancer_split()
        thinned = thin_classes(make_dataset("breast_cancer", X_tr, y_tr), ["malignant"], 0.25, seed=0)
        return thinned.X, thinned.y, X_te, y_te, ["random_forest"], ("balance", 1.0)
    if name == "adult-half":
        X, y, X_te, y_te, classifiers, _ = scenario("adult")
        return X, y, X_te, y_te, classifiers, ("balance", 0.5)
    return scenario(name)


def fitted(family: str, seed: int, X, y, models: Path | None, data: str):
    """(generator fitted on (X, y) with `seed`, its fit seconds; None when bench.downstream's
    `fitted` loaded it from `models`)."""
    key = f"{data}-seed{seed}"
    loaded = saved(models, key, family) is not None
    start = time.perf_counter()
    gen = downstream_fitted(family, {family: {"seed": seed}}, X, y, models, key)
    return gen, None if loaded else round(time.perf_counter() - start, 1)


def run(name: str, seeds: list[int], families: list[str], search: bool,
        models: Path | None = None) -> dict:
    X, y, X_te, y_te, classifiers, amount = task(name)
    data = name.removesuffix("-half")  # the training rows a task uses
    labels, numbers = np.unique(y, return_counts=True)
    counts = strategy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)), amount)
    per_seed: dict[str, dict[str, list[float]]] = {}
    timing: dict[str, list[float]] = {}
    reports = []
    for seed in seeds:
        synthetic = {}
        for family in families:
            gen, seconds = fitted(family, seed, X, y, models, data)
            synthetic[family] = gen.sample(counts, seed=seed + 1)
            if seconds is not None:
                timing.setdefault(family, []).append(seconds)
        aug = Augmenter(generator=list(families), sampling_strategy="search" if search else amount,
                        seed=seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            X_aug, y_aug = aug.fit_resample(X, y)
        timing.setdefault("augmenter", []).append(round(time.perf_counter() - start, 1))
        report = aug.report_
        reports.append({"seed": seed, "chosen": report.chosen, "reason": report.reason,
                        "selection_s": report.selection_s, "final_fit_s": report.final_fit_s,
                        "candidates": [{k: v for k, v in c.__dict__.items() if k != "amount"}
                                       | {"amount": str(c.amount)} for c in report.candidates]})
        sets = training_sets(X, y, synthetic, counts, seed=seed)
        sets["augmenter"] = (X_aug, y_aug)
        scores = compare(sets, (X_te, y_te), classifiers, seeds=(seed,))
        for s, by_classifier in scores.items():
            for c, figures in by_classifier.items():
                per_seed.setdefault(s, {}).setdefault(c, []).append(figures["macro_f1"]["mean"])
        print(f"  {name} seed {seed}: augmenter chose {report.chosen} "
              f"({report.selection_s:.0f} s selection); "
              + ", ".join(f"{s} {np.mean(v[classifiers[0]]):.4f}" for s, v in per_seed.items()),
              flush=True)
    table = {s: {c: {"mean": round(float(np.mean(v)), 4), "sd": round(float(np.std(v)), 4),
                     "seeds": [round(x, 4) for x in v]} for c, v in by.items()}
             for s, by in per_seed.items()}
    verdict = {c: {"not_below_real": table["augmenter"][c]["mean"] >= table["real_only"][c]["mean"],
                   "beats_smote": table["augmenter"][c]["mean"] > table["smote"][c]["mean"]}
               for c in classifiers}
    return {"amount": list(amount), "search": search, "counts_added": {str(k): v for k, v in counts.items()},
            "macro_f1": table, "verdict": verdict, "fit_s": timing, "augmenter": reports,
            "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--generators", nargs="+", default=list(FAMILIES))
    parser.add_argument("--search", action="store_true", help='sampling_strategy="search"')
    parser.add_argument("--models", type=Path, help="save and reuse the families' fits here")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.tasks:  # tasks not run keep their earlier figures
        key = f"{name}/search" if args.search else name
        results[key] = run(name, args.seeds, args.generators, args.search, args.models)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
