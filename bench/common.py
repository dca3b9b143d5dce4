"""Shared helpers for the benchmarks: datasets, splits and the TSTR score.

TSTR = train on synthetic, test on real: a 300-tree RandomForest is trained only on
a class-balanced synthetic set and scored (macro-F1) on the real test split.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from augment.data import load_dataset

ADULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult.csv"


def digits_split(seed: int = 0):
    """Builtin digits, stratified 70/30: (X_train [N,8,8] uint8, y_train, X_test, y_test)."""
    ds = load_dataset("builtin:digits")
    return train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=seed)


def adult_split(seed: int = 0, path: Path = ADULT):
    """Adult table, stratified 70/30: (X_train DataFrame, y_train, X_test, y_test)."""
    ds = load_dataset(str(path), target="class")
    return train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=seed)


def features(X, reference: pd.DataFrame | None = None) -> np.ndarray:
    """Images -> flat pixels; tables -> one-hot categoricals + numerics (NaN -> -1)."""
    if isinstance(X, np.ndarray):
        return X.reshape(len(X), -1).astype(np.float32)
    frame = pd.get_dummies(X, dummy_na=True, dtype=float)
    if reference is not None:
        columns = pd.get_dummies(reference, dummy_na=True, dtype=float).columns
        frame = frame.reindex(columns=columns, fill_value=0.0)
    return frame.fillna(-1).to_numpy(dtype=np.float32)


def rf_macro_f1(X_train, y_train, X_test, y_test, seed: int = 0) -> float:
    """Macro-F1 on (X_test, y_test) of a 300-tree RandomForest fitted on the train set."""
    reference = X_test if isinstance(X_test, pd.DataFrame) else None
    clf = RandomForestClassifier(n_estimators=300, n_jobs=-1, random_state=seed)
    clf.fit(features(X_train, reference), np.asarray(y_train).astype(str))
    pred = clf.predict(features(X_test, reference))
    return float(f1_score(np.asarray(y_test).astype(str), pred, average="macro"))


def tstr(generator, X_train, y_train, X_test, y_test, per_class: int | None = None,
         seed: int = 1) -> dict:
    """Fit `generator`, sample a balanced set, return timings and TSTR macro-F1."""
    start = time.perf_counter()
    generator.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    classes, counts = np.unique(y_train, return_counts=True)
    n = per_class or int(counts.max())
    start = time.perf_counter()
    X_syn, y_syn = generator.sample({c: n for c in classes.tolist()}, seed=seed)
    sample_s = time.perf_counter() - start
    return {
        "fit_s": round(fit_s, 1),
        "sample_s": round(sample_s, 2),
        "rows": len(y_syn),
        "tstr_macro_f1": round(rf_macro_f1(X_syn, y_syn, X_test, y_test), 4),
    }


def sample_speed(generator, rows: int = 10_000, seed: int = 0) -> float:
    """Seconds to sample `rows` rows spread evenly over the fitted classes."""
    classes = generator.classes_
    counts = {c: rows // len(classes) + (i < rows % len(classes)) for i, c in enumerate(classes)}
    start = time.perf_counter()
    generator.sample(counts, seed=seed)
    return time.perf_counter() - start
