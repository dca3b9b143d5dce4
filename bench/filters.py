"""Per-row filter benchmark: do the filters catch known-bad rows, spare real ones, and help?

    python -m bench.filters [--datasets breast_cancer digits] [--generators vae gan diffusion]

Per dataset: stratified 70/15/15 split (train / validation / test; digits: classes 5-9
thinned to 10% of their training rows, `balance` policy; breast_cancer: `balance`). The
filters are fitted on the training split and calibrated on the validation split
(defaults: anomaly q 0.99, memorisation alpha 0.01; label p 0.5 where named).

- catch: each family's synthetic set of the policy gets 5% known-bad rows of one kind
  at a time: `shuffled` (each row's numeric values permuted across its numeric columns;
  images: each image's pixels permuted), `mixed` (tables: each column shuffled
  independently over the bad rows: every value is real, the joint structure is gone),
  `relabelled` (rows of one class given another class's label), `near_copy` (training
  rows plus tiny noise: numbers + 1% of the column's sd, images: 3 pixels +-1), `noise`
  (images only: uniform pixels over the training range). Catch rate: share of the
  injected rows flagged, pooled over `REPEATS` injections of 5% each (so a rate rests on
  50+ rows, not 10).
- false drops: the share of real rows a filter flags when its threshold was calibrated
  on other real rows, over `SPLITS` random halvings of validation + test (calibrate on
  one half, count on the other; the models stay fitted on the training split): mean and
  worst split, per filter and for any filter. Also the share of the clean synthetic rows
  flagged.
- downstream: macro-F1 (test split, 300-tree RandomForest, 3 seeds) of real only, and
  real + each family's rows without and with the filters (`filter_sample`, exact counts).

Writes bench/results/filters.json; the README quotes it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augment.generators import get_generator
from augment.sampling import policy_counts
from augment.validate.filter_config import AnomalyConfig, FilterConfig, LabelConfig
from augment.validate.filters import build_filters, filter_sample, fit_filters
from augment.validate.gate import LabelledData
from bench.common import machine
from bench.transfer import POLICY, forest_macro_f1, versions_data

RESULTS = Path(__file__).parent / "results" / "filters.json"
SHARE = 0.05  # injected rows per kind, as a share of the synthetic set
REPEATS = 5  # injections pooled per kind
SPLITS = 20  # random calibrate / count halvings of the real validation + test rows


def _take(X, index):
    return X.iloc[index].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[index]


def inject(kind: str, X_syn, y_syn, X_train, y_train, rng: np.random.Generator):
    """(X_bad, y_bad): SHARE x len(y_syn) known-bad rows of `kind` (module docstring)."""
    n = max(10, int(round(SHARE * len(y_syn))))
    table = isinstance(X_syn, pd.DataFrame)
    if kind == "near_copy":
        index = rng.choice(len(y_train), n, replace=len(y_train) < n)
        X, y = _take(X_train, index), np.asarray(y_train)[index]
        if table:
            X = X.copy()
            for col in X.columns:
                if pd.api.types.is_numeric_dtype(X[col]) and not pd.api.types.is_bool_dtype(X[col]):
                    sd = float(pd.to_numeric(X_train[col], errors="coerce").std()) or 1.0
                    noisy = X[col].astype(float) + rng.normal(0, 0.01 * sd, n)
                    X[col] = noisy.round().astype(X[col].dtype) if X[col].dtype.kind in "iu" else noisy
            return X, y
        X = X.astype(np.int16).reshape(n, -1)
        for row in X:
            spots = rng.choice(row.size, 3, replace=False)
            row[spots] = np.clip(row[spots] + rng.choice([-1, 1], 3), X_train.min(), X_train.max())
        return X.reshape((n, *X_train.shape[1:])).astype(X_train.dtype), y
    index = rng.choice(len(y_syn), n, replace=False)
    X, y = _take(X_syn, index), np.asarray(y_syn)[index]
    if kind == "shuffled":  # each row's values permuted across its columns
        if table:
            X = X.copy()
            numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
                       and not pd.api.types.is_bool_dtype(X[c])]
            values = np.array(X[numeric].to_numpy(dtype=float))  # a writable copy
            for row in values:
                rng.shuffle(row)
            for j, col in enumerate(numeric):
                X[col] = values[:, j].astype(X[col].dtype) if X[col].dtype.kind == "f" else (
                    np.round(values[:, j]).astype(X[col].dtype))
            return X, y
        flat = X.reshape(n, -1).copy()
        for row in flat:
            rng.shuffle(row)
        return flat.reshape(X.shape), y
    if kind == "mixed":  # each column shuffled over the bad rows: real values, no joint
        if table:
            return pd.DataFrame({c: X[c].to_numpy()[rng.permutation(n)] for c in X.columns}), y
        return X[rng.permutation(n)].copy(), y  # images: nothing to mix, not run
    if kind == "relabelled":
        classes = np.unique(y_train)
        other = np.array([rng.choice(classes[classes != label]) for label in y])
        return X, other.astype(np.asarray(y_train).dtype)
    if kind == "noise":
        low, high = int(X_train.min()), int(X_train.max())
        return rng.integers(low, high + 1, size=X.shape).astype(X_train.dtype), y
    raise ValueError(kind)


def flagged(filters, X, y) -> dict[str, float]:
    """Share of rows flagged by each filter and by any ("any")."""
    marks = {f.name: f.flags(f.score(X, y)) for f in filters}
    out = {name: round(float(m.mean()), 4) for name, m in marks.items()}
    out["any"] = round(float(np.any(list(marks.values()), axis=0).mean()), 4)
    return out


def false_drops(filters, real_X, real_y, splits: int = SPLITS, seed: int = 0) -> dict:
    """{filter or "any": {"mean", "max"}}: share of real rows flagged after calibrating on
    the other half of `real_X`, over `splits` random halvings. Leaves the filters
    calibrated on the last half."""
    rng = np.random.default_rng(seed)
    shares: dict[str, list[float]] = {}
    for _ in range(splits):
        order = rng.permutation(len(real_y))
        cal, count = order[: len(order) // 2], order[len(order) // 2:]
        for f in filters:
            f.calibrate(LabelledData(_take(real_X, cal), np.asarray(real_y)[cal]))
        for name, share in flagged(filters, _take(real_X, count), np.asarray(real_y)[count]).items():
            shares.setdefault(name, []).append(share)
    return {name: {"mean": round(float(np.mean(v)), 4), "max": round(float(np.max(v)), 4)}
            for name, v in shares.items()}


def _stack(X_parts, y_parts):
    if isinstance(X_parts[0], pd.DataFrame):
        return pd.concat(X_parts, ignore_index=True), np.concatenate(y_parts)
    return np.concatenate(X_parts), np.concatenate(y_parts)


def run(dataset: str, generators: list[str]) -> dict:
    _, _, X_tr, y_tr, X_val, y_val, X_te, y_te = versions_data(dataset)
    labels, numbers = np.unique(y_tr, return_counts=True)
    counts = policy_counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)),
                           *POLICY[dataset])
    train, holdout = LabelledData(X_tr, y_tr), LabelledData(X_val, y_val)
    table = isinstance(X_tr, pd.DataFrame)
    kinds = ["shuffled", "relabelled", "near_copy"] + (["mixed"] if table else ["noise"])
    out: dict = {"machine": machine(), "rows": {"train": len(y_tr), "val": len(y_val),
                                                "test": len(y_te)}, "policy": list(POLICY[dataset])}
    with_label = FilterConfig(anomaly=AnomalyConfig(enabled=True), label=LabelConfig(enabled=True))
    synthetic = {}
    for name in generators:
        start = time.perf_counter()
        gen = get_generator(name, progress="never").fit(X_tr, y_tr)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        filters = fit_filters(build_filters(with_label, gen), train, holdout)
        filters_s = time.perf_counter() - start
        default = [f for f in filters if f.name != "label"]
        X_syn, y_syn = gen.sample(counts, seed=1)
        rng = np.random.default_rng(0)
        row: dict = {"fit_s": round(fit_s, 1), "filters_fit_s": round(filters_s, 1),
                     "thresholds": {f.name: round(f.threshold_, 4) for f in filters},
                     "holdout_pass": {f.name: round(f.holdout_pass_, 4) for f in filters},
                     "clean_synthetic_flagged": flagged(filters, X_syn, y_syn),
                     "test_flagged": flagged(filters, X_te, y_te), "catch": {}}
        for kind in kinds:
            X_bad, y_bad = _stack(*zip(*(inject(kind, X_syn, y_syn, X_tr, y_tr, rng)
                                         for _ in range(REPEATS)), strict=True))
            catch = flagged(filters, X_bad, y_bad)
            marks = [f.flags(f.score(X_bad, y_bad)) for f in default]
            catch["anomaly+memorisation"] = round(float(np.any(marks, axis=0).mean()), 4)
            row["catch"][kind] = catch
        row["catch_rows"] = int(len(y_bad))
        real = _stack([X_val, X_te], [np.asarray(y_val), np.asarray(y_te)])
        row["false_drops"] = false_drops(filters, *real)
        for f in filters:  # back to the pipeline's calibration
            f.calibrate(holdout)
        start = time.perf_counter()
        X_f, y_f, summary, _ = filter_sample(gen, counts, 1, default)
        row["filter_sample_s"] = round(time.perf_counter() - start, 1)
        row["dropped"] = summary.figures()
        synthetic[name] = (X_syn, y_syn)
        synthetic[f"{name}-filtered"] = (X_f, y_f)
        out[name] = row
        print(f"  {dataset}/{name}: {json.dumps(row)}", flush=True)
    out.update(forest_macro_f1(X_tr, y_tr, synthetic, counts, (X_te, y_te), dataset))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["breast_cancer", "digits"],
                        choices=sorted(POLICY))
    parser.add_argument("--generators", nargs="+", default=["vae", "gan", "diffusion"])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:  # what is not run keeps its earlier figures
        results[dataset] = run(dataset, args.generators)
        RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
