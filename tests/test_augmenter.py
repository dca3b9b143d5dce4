"""`augment.augmenter.Augmenter`: imbalanced-learn compatible, chooses by measurement,
does no harm, deterministic, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.neighbors import KNeighborsClassifier

from augment.augmenter import REAL_ONLY, Augmenter
from augment.errors import ConfigError, DataError

FAST = {"vae": {"epochs": 1, "min_steps": 300}, "gan": {"epochs": 1, "min_steps": 100}}


def imbalanced(n: int = 600, sep: float = 1.5, flip: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Two classes, 5% minority: a 25-neighbour vote rarely says "minority", so more
    minority rows raise macro-F1 (SMOTE: 0.67 -> 0.88 out of fold)."""
    return make_classification(n_samples=n, n_features=4, n_informative=2, n_redundant=0,
                               n_clusters_per_class=1, weights=[0.95, 0.05], class_sep=sep,
                               flip_y=flip, random_state=0)


def augmenter(**kw) -> Augmenter:
    return Augmenter(**{"generator": "vae", "classifier": KNeighborsClassifier(25),
                        "generator_params": FAST, **kw})


def test_a_helpful_generator_is_chosen_and_the_real_rows_come_first():
    X, y = imbalanced()
    aug = augmenter()
    X_out, y_out = aug.fit_resample(X, y)
    report = aug.report_
    assert report.chosen == "vae, auto" and report.candidates[0].low > 0
    assert report.counts == {0: 0, 1: int((y == 0).sum() - (y == 1).sum())}
    assert np.array_equal(X_out[: len(X)], X) and np.array_equal(y_out[: len(y)], y)
    assert np.bincount(y_out).tolist() == [(y == 0).sum()] * 2
    assert X_out.dtype == X.dtype and "vae" in aug.generators_
    assert "lower 95% bound" in str(report) and report.selection_s > 0


def test_same_seed_same_rows_other_seed_other_rows():
    X, y = imbalanced()  # two folds: determinism, not the choice, is the subject here
    first, again = augmenter(seed=3, cv=2).fit_resample(X, y), augmenter(seed=3, cv=2).fit_resample(X, y)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    other = augmenter(seed=4, cv=2).fit_resample(X, y)
    assert not np.array_equal(first[0][len(X):], other[0][len(X):])


def test_no_harm_when_nothing_can_help():
    """Far-apart classes: real rows alone score macro-F1 1.0, so no candidate can gain."""
    X, y = imbalanced(sep=6.0, flip=0.0)
    aug = augmenter(generator=["vae", "gan"], sampling_strategy="search")
    with pytest.warns(UserWarning, match="real rows unchanged: no candidate raised"):
        X_out, y_out = aug.fit_resample(X, y)
    assert X_out is X and np.array_equal(y_out, y)
    assert aug.report_.chosen == REAL_ONLY and aug.generators_ == {}
    names = {c.name for c in aug.report_.candidates}
    assert {"vae, balance 0.5", "gan, ratio 1"} <= names
    assert all(c.base == 1.0 and c.low <= 0 for c in aug.report_.candidates)


def test_in_an_imblearn_pipeline_and_grid_search():
    from imblearn.pipeline import Pipeline
    from sklearn.model_selection import GridSearchCV

    X, y = imbalanced()
    pipe = Pipeline([("aug", augmenter(refits=1, cv=2)), ("knn", KNeighborsClassifier(25))])
    search = GridSearchCV(pipe, {"aug__sampling_strategy": ["auto", 0.5]}, cv=2, scoring="f1_macro")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y)
    assert search.best_params_["aug__sampling_strategy"] in ("auto", 0.5)
    assert search.predict(X).shape == y.shape
    aug = search.best_estimator_.named_steps["aug"]
    assert aug.report_.chosen.startswith("vae")
    assert clone(aug).get_params()["generator_params"] == FAST


def test_a_table_comes_back_as_a_table():
    X, y = imbalanced()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["d"] = frame["d"].round().astype("int64")
    labels = np.where(y == 1, "rare", "common").astype(object)
    X_out, y_out = augmenter().fit_resample(frame, labels)
    assert list(X_out.columns) == list(frame.columns) and (X_out.dtypes == frame.dtypes).all()
    assert len(X_out) == len(y_out) > len(frame) and set(y_out) == {"rare", "common"}
    pd.testing.assert_frame_equal(X_out.iloc[: len(frame)], frame)


def test_a_fitted_model_and_flat_images():
    from augment.data import load_dataset
    from augment.generators import get_generator

    ds = load_dataset("builtin:digits")
    keep = np.isin(ds.y, [0, 1])
    images, y = ds.X[keep][:120], ds.y[keep][:120]
    model = get_generator("vae", epochs=1, min_steps=20, progress="never").fit(images, y)
    flat = images.reshape(len(images), -1)
    aug = Augmenter(generator=model, sampling_strategy={0: 70, 1: 70}, image_shape=(8, 8),
                    classifier=KNeighborsClassifier(3), refits=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X_out, y_out = aug.fit_resample(flat, y)
    assert X_out.shape[1] == 64 and X_out.dtype == flat.dtype and len(X_out) == len(y_out)
    assert [c.families for c in aug.report_.candidates] == [[model.name]]


@pytest.mark.parametrize("kw, X, y, error, match", [
    ({"generator": "nope"}, None, None, ConfigError, "unknown generator"),
    ({"sampling_strategy": "bogus"}, None, None, ConfigError, "unknown sampling_strategy"),
    ({"sampling_strategy": {1: 3}}, None, None, ConfigError, "fewer rows than a class has"),
    ({"sampling_strategy": {7: 30}}, None, None, ConfigError, "not in y"),
    ({"cv": 1}, None, None, ConfigError, "cv must be"),
    ({"cv": 2.5}, None, None, ConfigError, "cv must be"),
    ({"cv": [(np.arange(500), np.arange(500, 601))]}, None, None, DataError, "cv split 0: .* indices"),
    ({"cv": [(np.arange(10), np.arange(10, 600))]}, None, None, DataError, "no fitted rows"),
    ({"cv": []}, None, None, ConfigError, "no splits"),
    ({"cv": "folds"}, None, None, ConfigError, "cv must be 'auto'"),
    ({"confidence": 1.0}, None, None, ConfigError, "confidence must be"),
    ({"generator_params": {"vea": {}}}, None, None, ConfigError, "unknown families"),
    ({}, None, np.r_[np.zeros(595), np.ones(5)], DataError, "fewer than 6 rows"),
    ({}, np.full((600, 2), "a"), None, DataError, "must be numeric"),
    ({}, None, np.zeros(10), DataError, "one label per row"),
])
def test_bad_input_names_the_problem(kw, X, y, error, match):
    X0, y0 = imbalanced()
    with pytest.raises(error, match=match):
        augmenter(**kw).fit_resample(X0 if X is None else X, y0 if y is None else y)


def test_auto_cv_follows_the_table_size():
    """cv="auto": AUTO_FOLDS stratified folds on a small table, one stratified split
    scoring HOLDOUT of the rows on a large one (one generator fit per family)."""
    from augment.augmenter import AUTO_FOLDS, HOLDOUT, LARGE_ROWS

    for n, splits in ((600, AUTO_FOLDS), (LARGE_ROWS, 1)):
        y = np.r_[np.zeros(n - n // 5), np.ones(n // 5)]
        folds = Augmenter(seed=3)._check_splits(y)
        assert len(folds) == splits
        scored = np.concatenate([s for _, s in folds])
        assert len(np.unique(scored)) == len(scored)  # every row scored at most once
        if splits == 1:
            fit, scored = folds[0]
            assert len(scored) == round(HOLDOUT * n) and not set(fit) & set(scored)
            assert y[scored].mean() == pytest.approx(0.2, abs=0.01)  # stratified
        else:
            assert len(scored) == n

    big = np.r_[np.zeros(LARGE_ROWS), [1.0]]  # one row of class 1 in a large table
    with pytest.raises(DataError, match=r"fewer than 2 rows: \{1.0: 1\}"):
        Augmenter()._check_splits(big)
