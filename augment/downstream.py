"""Downstream comparison: train real classifiers on each training set, score on real test rows.

This is the figure the product exists for: does training on real + synthetic rows
beat training on real rows alone (and SMOTE)? Every score is reported as mean and
standard deviation over several seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

from augment.classifiers import Classifier, make_classifier
from augment.validate.metrics import encode_tables

TrainSet = tuple[pd.DataFrame | np.ndarray, np.ndarray]


def features(train_X, test_X, reference: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Shared numeric features: encoded tables (reference = real training table) or pixels."""
    if isinstance(train_X, pd.DataFrame):
        _, enc_train, enc_test = encode_tables(reference, train_X, test_X)
        return enc_train, enc_test
    flat = lambda X: np.asarray(X, dtype=np.float32).reshape(len(X), -1)  # noqa: E731
    return flat(train_X), flat(test_X)


def score(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence) -> dict[str, Any]:
    """Macro-F1, balanced accuracy and recall per class."""
    recall = recall_score(y_true, y_pred, labels=list(classes), average=None, zero_division=0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "recall": {str(c): float(r) for c, r in zip(classes, recall, strict=True)},
    }


def compare(train_sets: dict[str, TrainSet], test: TrainSet, classifiers: Sequence[Classifier],
            seeds: Sequence[int] = (0, 1, 2)) -> dict[str, dict]:
    """Scores of every (training set, classifier) pair on the real test split.

    Args:
        train_sets: {name: (X, y)}; the first is the reference (real) set whose table
            encoding every other set shares.
        test: real test rows (X, y).
        classifiers: names of make_classifier.
        seeds: classifier seeds; figures are mean and sd over them.

    Returns:
        {set: {classifier: {"macro_f1": {"mean", "sd"}, "balanced_accuracy": {...},
                            "recall": {class: mean}}}}
    """
    from threadpoolctl import threadpool_limits

    from augment.threads import task_threads

    test_X, test_y = test
    shape = None if isinstance(test_X, pd.DataFrame) else tuple(np.asarray(test_X).shape[1:])
    test_y = np.asarray(test_y).astype(str)
    classes = sorted(set(test_y))
    reference = next(iter(train_sets.values()))[0]
    out: dict[str, dict] = {}
    for name, (X, y) in train_sets.items():
        enc_train, enc_test = features(X, test_X, reference if isinstance(X, pd.DataFrame) else None)
        labels = np.asarray(y).astype(str)
        out[name] = {}
        for clf_name in classifiers:
            # OpenMP pools (gradient boosting) take this task's share of the cores too:
            # their threads spin on busy cores (augment/validate/compare.py)
            with threadpool_limits(task_threads()):
                runs = [score(test_y, make_classifier(clf_name, s, shape).fit(enc_train, labels)
                              .predict(enc_test), classes) for s in seeds]
            out[name][clf_name] = {
                key: {"mean": float(np.mean([r[key] for r in runs])),
                      "sd": float(np.std([r[key] for r in runs]))}
                for key in ("macro_f1", "balanced_accuracy")
            } | {"recall": {c: float(np.mean([r["recall"][c] for r in runs])) for c in classes}}
    return out


def training_sets(X, y: np.ndarray, synthetic: Mapping[str, TrainSet], counts: Mapping[Any, int],
                  seed: int = 0) -> dict[str, TrainSet]:
    """Every training set the comparison needs, real rows first.

    Args:
        X, y: the real training rows (table or images [N, ...]).
        synthetic: {generator: (X_new, y_new)}, only the new rows of each generator.
        counts: new rows per class the baselines add (the generators' request), so every
            augmentation is compared at the same mix ratio.

    Returns:
        {"real_only", "smote", "classic" (images only), *synthetic}: {name: (X, y)} where
        every augmented set is the real rows followed by its new rows.
    """
    from augment.baselines import classic_images, smote
    from augment.publish import combine

    new_rows = {"smote": smote(X, y, counts, seed=seed)}
    if not isinstance(X, pd.DataFrame):
        new_rows["classic"] = classic_images(X, y, counts, seed=seed)
    new_rows.update(synthetic)
    sets: dict[str, TrainSet] = {"real_only": (X, np.asarray(y))}
    for name, part in new_rows.items():
        data = combine(X, y, {name: part})
        sets[name] = (data.X, data.y)
    return sets


def macro_f1_change(scores: dict[str, dict], baseline: str = "real_only") -> dict[str, dict]:
    """{set: {classifier: mean macro-F1 minus the baseline set's}} for every other set."""
    base = scores[baseline]
    return {name: {clf: row[clf]["macro_f1"]["mean"] - base[clf]["macro_f1"]["mean"] for clf in row}
            for name, row in scores.items() if name != baseline}


def plot_scores(scores: dict[str, dict], path, title: str) -> None:
    """Grouped bars to `path` (PNG): test macro-F1 mean +- sd per training set and classifier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from augment.io import atomic_file

    names = list(scores)
    classifiers = list(scores[names[0]])
    width = 0.8 / len(classifiers)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.6))
    for i, clf in enumerate(classifiers):
        means = [scores[n][clf]["macro_f1"]["mean"] for n in names]
        sds = [scores[n][clf]["macro_f1"]["sd"] for n in names]
        ax.bar(np.arange(len(names)) + i * width, means, width, yerr=sds, capsize=3, label=clf)
    lows = [scores[n][c]["macro_f1"]["mean"] for n in names for c in classifiers]
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_xticks(np.arange(len(names)) + width * (len(classifiers) - 1) / 2, names)
    ax.set_ylabel("test macro-F1")
    ax.set_title(f"{title}: downstream macro-F1 by training set")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
