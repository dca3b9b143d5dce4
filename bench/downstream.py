"""Downstream benchmark: does augmenting help a real classifier more than SMOTE does?

    python -m bench.downstream [--datasets digits digits-lowdata adult] [--generators ...]
        [--params JSON --tag NAME]

- digits: stratified 70/30 split, classes 5-9 thinned to 10% of their training rows,
  `balance` policy (every class raised to the largest). 300-tree RandomForest.
- digits-lowdata: the same split, 20 training rows per class, `ratio` policy (2 new
  rows per real row). 300-tree RandomForest.
- breast_cancer: stratified 70/30 split, `balance` policy (the minority class raised to
  the majority). 300-tree RandomForest.
- adult (../shared/data/adult.csv): stratified 70/30 split, `balance` policy;
  RandomForest and HistGradientBoosting.

Training sets: real only, real + SMOTE(NC), real + classic transforms (images), real +
each generator's samples; macro-F1 on the real test split, mean and sd over 3 seeds.
Writes bench/results/downstream.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from augment.data import limit_per_class, make_dataset, thin_classes
from augment.downstream import compare, training_sets
from augment.generators import get_generator, load_generator
from augment.sampling import policy_counts
from augment.workspace import MODEL_CONFIG_FILE
from bench.common import adult_split, breast_cancer_split, digits_split, machine

RESULTS = Path(__file__).parent / "results" / "downstream.json"


SCENARIOS = ("digits", "digits-lowdata", "breast_cancer", "adult")


def scenario(name: str):
    """(X_train, y_train, X_test, y_test, classifiers, (policy, ratio)) of a scenario."""
    if name.startswith("digits"):
        X_tr, X_te, y_tr, y_te = digits_split()
        train = make_dataset("digits", X_tr, y_tr)
        if name == "digits-lowdata":
            few = limit_per_class(train, 20, seed=0)
            return few.X, few.y, X_te, y_te, ["random_forest"], ("ratio", 2.0)
        thinned = thin_classes(train, [5, 6, 7, 8, 9], 0.1, seed=0)
        return thinned.X, thinned.y, X_te, y_te, ["random_forest"], ("balance", 1.0)
    if name == "breast_cancer":
        X_tr, X_te, y_tr, y_te = breast_cancer_split()
        return X_tr, y_tr, X_te, y_te, ["random_forest"], ("balance", 1.0)
    X_tr, X_te, y_tr, y_te = adult_split()
    return X_tr, y_tr, X_te, y_te, ["random_forest", "hist_gradient_boosting"], ("balance", 1.0)


def saved(models: Path | None, key: str, name: str) -> Path | None:
    """Where `fitted` keeps generator `name` of `key`, when it is saved there."""
    folder = models / f"{key}-{name}" if models else None
    return folder if folder and (folder / MODEL_CONFIG_FILE).is_file() else None


def fitted(name: str, params: dict, X, y, models: Path | None, key: str):
    """A generator fitted on (X, y), reused from `models`/<key>-<name> when saved there."""
    if (found := saved(models, key, name)) is not None:
        return load_generator(found)
    folder = models / f"{key}-{name}" if models else None
    gen = get_generator(name, progress="never", **params.get(name, {})).fit(X, y)
    if folder:
        gen.save(folder)
    return gen


def run(dataset: str, generators: list[str], params: dict, counts: dict | None = None,
        models: Path | None = None, key: str = "", policy: tuple | None = None) -> dict:
    X, y, X_te, y_te, classifiers, default_policy = scenario(dataset)
    policy, ratio = policy or default_policy
    labels, numbers = np.unique(y, return_counts=True)
    if counts:  # explicit {class: rows}, e.g. {">50K": 3000}
        by_name = {str(c): c for c in labels.tolist()}
        counts = {by_name[c]: int(n) for c, n in counts.items()}
    else:
        counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)),
                               policy, ratio)
    timing, synthetic = {}, {}
    for name in generators:
        start = time.perf_counter()
        gen = fitted(name, params, X, y, models, key or dataset)
        fit_s = time.perf_counter() - start
        synthetic[name] = gen.sample(counts, seed=1)
        timing[name] = {"fit_s": round(fit_s, 1),
                        "sample_s": round(time.perf_counter() - start - fit_s, 1)}
        print(f"  {dataset}/{name}: {timing[name]}", flush=True)
    sets = training_sets(X, y, synthetic, counts, seed=0)
    scores = compare(sets, (X_te, y_te), classifiers, seeds=(0, 1, 2))
    table = {s: {c: round(scores[s][c]["macro_f1"]["mean"], 4) for c in classifiers} for s in scores}
    for s, row in table.items():
        print(f"  {dataset:<15}{s:<11}{row}", flush=True)
    return {"params": params, "policy": [policy, ratio],
            "counts_added": {str(k): int(v) for k, v in counts.items()}, "timing": timing,
            "macro_f1": table, "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion", "autoregressive"])
    parser.add_argument("--params", default="{}", help='JSON {"vae": {"epochs": 10}}')
    parser.add_argument("--tag", default="", help="store figures as DATASET/TAG (a variant)")
    parser.add_argument("--policy", nargs=2, metavar=("POLICY", "RATIO"),
                        help="override the scenario's class-count policy, e.g. balance 0.5")
    parser.add_argument("--counts", default="", help='JSON rows to add per class, e.g. {">50K": 3000}')
    parser.add_argument("--models", type=Path, help="save fitted generators here and reuse them")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for dataset in args.datasets:  # datasets not run keep their earlier figures
        key = f"{dataset}/{args.tag}" if args.tag else dataset
        started = machine()  # cores and load when this dataset's run began
        results[key] = run(dataset, args.generators, json.loads(args.params),
                           json.loads(args.counts or "{}"), args.models,
                           f"{dataset}-{hashlib.sha256(args.params.encode()).hexdigest()[:8]}",
                           (args.policy[0], float(args.policy[1])) if args.policy else None)
        results[key]["machine"] = started
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
