"""Shared helpers for the benchmarks: datasets, splits and the TSTR score.

TSTR = train on synthetic, test on real: `augment.validate.metrics.tstr`, the same
definition (and classifier, `augment.classifiers.utility_classifier`) as the gate's,
trained only on a class-balanced synthetic set and scored on the real test split.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from augment.data import load_dataset
from augment.validate import metrics

ADULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "adult.csv"


def digits_split(seed: int = 0):
    """Builtin digits, stratified 70/30: (X_train [N,8,8] uint8, y_train, X_test, y_test)."""
    ds = load_dataset("builtin:digits")
    return train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=seed)


def breast_cancer_split(seed: int = 0):
    """Builtin breast_cancer, stratified 70/30: (X_train DataFrame, y_train, X_test, y_test)."""
    ds = load_dataset("builtin:breast_cancer")
    return train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=seed)


def adult_split(seed: int = 0, path: Path = ADULT):
    """Adult table, stratified 70/30: (X_train DataFrame, y_train, X_test, y_test)."""
    ds = load_dataset(str(path), target="class")
    return train_test_split(ds.X, ds.y, test_size=0.3, stratify=ds.y, random_state=seed)


def real_macro_f1(X_train, y_train, X_test, y_test, seed: int = 0) -> float:
    """The TSTR classifier trained on real rows: the figure TSTR is compared with."""
    return metrics.tstr(X_train, X_train, y_train, X_test, y_test, seed=seed)


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
        "tstr_macro_f1": round(metrics.tstr(X_train, X_syn, y_syn, X_test, y_test), 4),
    }


def sample_speed(generator, rows: int = 10_000, seed: int = 0) -> float:
    """Seconds to sample `rows` rows spread evenly over the fitted classes."""
    classes = generator.classes_
    counts = {c: rows // len(classes) + (i < rows % len(classes)) for i, c in enumerate(classes)}
    start = time.perf_counter()
    generator.sample(counts, seed=seed)
    return time.perf_counter() - start


def machine() -> dict:
    """Where a figure was measured: the core count, torch's thread count and the 1-, 5- and
    15-minute load averages when the run started. The bench's own earlier work counts in
    them; a 1-minute figure well above torch's thread count means something else ran too,
    and the fit times are not comparable."""
    import os

    import torch

    return {"cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}
