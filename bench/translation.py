"""What class-to-class translation does to its source rows, on the downstream scenarios.

    python -m bench.translation [--datasets digits breast_cancer adult] [--params JSON]
        [--models DIR]

For each scenario of `bench/downstream.py` (imbalanced digits, breast_cancer, Adult, the
same splits and class counts), fit the translation family, sample the scenario's counts
with their source rows, and report:

- `pair_distances` (augment/generators/translation.py): distance to the source row, to
  the nearest real row of the target class, the data's own neighbour spacing, the share
  of rows left unchanged and the share nearer their source than any target-class row;
- a judge: a 300-tree forest trained on the scenario's real training rows labels each
  translated row; `judged_target` is the share it puts in the target class,
  `judged_source` the share it puts in the source row's class (a translation that kept
  its source class); `judged_real` is the same judge's recall on the real test rows of
  the target classes (what a perfect translation could reach);
- exact copies: translated rows equal to a training row of any class;
- TSTR: the gate's classifier trained only on a class-balanced translated set (every
  class at the scenario's largest count), macro-F1 on the real test split;
- fit and sampling time. With `--models` (the folder given to `bench.downstream
  --models`, same `--params`) the model that bench fitted is reused and fit_s is its.

Writes bench/results/translation.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from augment.data import make_dataset, thin_classes
from augment.generators.translation import pair_distances
from augment.sampling import policy_counts
from augment.validate import metrics
from bench.common import adult_split, breast_cancer_split, digits_split, machine
from bench.downstream import fitted

RESULTS = Path(__file__).parent / "results" / "translation.json"


def scenario(name: str):
    """(X_train, y_train, X_test, y_test, features) of a downstream scenario; features(X)
    -> 2-D array for the judge."""
    if name == "digits":
        X_tr, X_te, y_tr, y_te = digits_split()
        thinned = thin_classes(make_dataset("digits", X_tr, y_tr), [5, 6, 7, 8, 9], 0.1, seed=0)
        return thinned.X, thinned.y, X_te, y_te, lambda X: X.reshape(len(X), -1)
    X_tr, X_te, y_tr, y_te = breast_cancer_split() if name == "breast_cancer" else adult_split()
    return X_tr, y_tr, X_te, y_te, lambda X: X


def copies(X_syn, X_train) -> float:
    """Share of rows of X_syn equal to some row of X_train (all columns)."""
    if isinstance(X_syn, np.ndarray):
        seen = {row.tobytes() for row in X_train.reshape(len(X_train), -1)}
        return float(np.mean([row.tobytes() in seen for row in X_syn.reshape(len(X_syn), -1)]))
    both = pd.concat([X_train.drop_duplicates().assign(_real=1), X_syn.assign(_real=0)])
    repeated = both.duplicated(subset=list(X_syn.columns), keep="first")
    return float(repeated[both["_real"] == 0].mean())


def run(name: str, params: str, models: Path | None) -> dict:
    X, y, X_te, y_te, features = scenario(name)
    labels, numbers = np.unique(y, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)), "balance", 1.0)
    counts = {c: n for c, n in counts.items() if n}
    start = time.perf_counter()
    key = f"{name}-{hashlib.sha256(params.encode()).hexdigest()[:8]}"
    gen = fitted("translation", json.loads(params), X, y, models, key)
    fit_s = gen.fit_info_.get("fit_seconds") or time.perf_counter() - start
    start = time.perf_counter()
    X_syn, y_syn, X_src, y_src = gen.sample(counts, seed=1, return_sources=True)
    sample_s = time.perf_counter() - start
    if isinstance(X, pd.DataFrame):
        encoded = pd.get_dummies(pd.concat([X, X_syn, X_te]), dummy_na=True).fillna(-1).to_numpy()
        real, syn, test = np.split(encoded, [len(X), len(X) + len(X_syn)])
    else:
        real, syn, test = features(X), features(X_syn), features(X_te)
    judge = RandomForestClassifier(300, random_state=0, n_jobs=-1).fit(real, y)
    said = judge.predict(syn)
    targets = np.isin(y_te, list(counts))
    balanced = gen.sample({c: int(numbers.max()) for c in labels.tolist()}, seed=2)
    row = {"counts": {str(k): v for k, v in counts.items()}, "fit_s": round(fit_s, 1),
           "sample_s": round(sample_s, 2),
           **{k: round(v, 4) for k, v in pair_distances(gen, X_syn, y_syn, X_src).items()},
           "judged_target": round(float(np.mean(said == y_syn)), 4),
           "judged_source": round(float(np.mean(said == y_src)), 4),
           "judged_real": round(float(np.mean(judge.predict(test[targets]) == y_te[targets])), 4),
           "exact_copy_share": round(copies(X_syn, X), 4),
           "tstr_macro_f1": round(metrics.tstr(X, *balanced, X_te, y_te), 4),
           "real_macro_f1": round(metrics.tstr(X, X, y, X_te, y_te), 4)}
    print(f"{name}: {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["digits", "breast_cancer", "adult"])
    parser.add_argument("--params", default="{}", help='JSON {"translation": {"epochs": 10}}')
    parser.add_argument("--models", type=Path, help="reuse (or save) fitted models here")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.datasets:
        started = machine()  # cores and load when this dataset's run began
        results[name] = {"params": json.loads(args.params), **run(name, args.params, args.models),
                         "machine": started}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
