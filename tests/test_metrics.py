"""Known-answer tests for augment.validate.metrics on small data built in code."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_mixed_table
from sklearn.datasets import make_classification

from augment.validate import metrics as m


def gaussian_table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Two correlated numerics and one categorical; `shift` moves everything far away."""
    rng = np.random.default_rng(seed)
    a = rng.normal(shift, 1.0, n)
    return pd.DataFrame({
        "a": a,
        "b": a + rng.normal(shift, 0.5, n),
        "c": pd.Series(rng.choice(["x", "y", "z"], size=n), dtype="str"),
    })


# ---- encoding ---------------------------------------------------------------------------
def test_encode_tables_shares_one_space(mixed_table):
    X, _ = mixed_table
    other = X.copy()
    other.loc[0, "colour"] = "never-seen"
    other.loc[1, "income"] = np.nan
    enc_ref, enc_other = m.encode_tables(X, other)
    assert enc_ref.shape == enc_other.shape == (len(X), enc_ref.shape[1])
    assert np.isfinite(enc_ref).all() and np.isfinite(enc_other).all()
    # The numeric block of "income" is centred on the reference median.
    assert np.median(enc_ref[:, 0]) == pytest.approx(0.0, abs=1e-9)
    # Only the two edited rows differ; a NaN gets a missing flag, an unseen category zeros.
    diff_rows = np.flatnonzero(np.abs(enc_ref - enc_other).sum(axis=1) > 0)
    assert diff_rows.tolist() == [0, 1]
    # "income" is column 0 and, as `other` has a NaN in it, its missing flag is column 1.
    assert enc_ref[:, 1].sum() == 0.0 and enc_other[1, 1] == 1.0 and enc_other[1, 0] == 0.0
    # Row 0 loses its colour one-hot (or its colour-missing flag): one fewer active slot.
    assert enc_ref[0].sum() - enc_other[0].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(m.encode_tables(X, other)[1], enc_other)


def test_encode_tables_unseen_category_is_all_zeros():
    ref = pd.DataFrame({"c": ["a", "b", "a"]})
    enc_ref, enc_new = m.encode_tables(ref, pd.DataFrame({"c": ["b", "zzz"]}))
    assert enc_ref.tolist() == [[1, 0], [0, 1], [1, 0]]
    assert enc_new.tolist() == [[0, 1], [0, 0]]


# ---- table fidelity ---------------------------------------------------------------------
def test_identical_tables_have_zero_fidelity_distances(mixed_table):
    X, _ = mixed_table
    assert set(m.column_ks(X, X.copy())) == {"income", "bimodal", "age", "hours", "score"}
    assert all(v == 0.0 for v in m.column_ks(X, X.copy()).values())
    assert set(m.column_tv(X, X.copy())) == {"colour", "flag", "size"}
    assert all(v == 0.0 for v in m.column_tv(X, X.copy()).values())
    assert m.correlation_distance(X, X.copy()) == pytest.approx(0.0, abs=1e-12)


def test_disjoint_tables_have_maximal_marginal_distances():
    real = pd.DataFrame({"x": [1.0, 2.0, np.nan, 3.0], "c": ["a", "b", "a", None]})
    syn = pd.DataFrame({"x": [10.0, 11.0, 12.0, np.nan], "c": ["u", "v", "w", "u"]})
    assert m.column_ks(real, syn) == {"x": 1.0}
    assert m.column_tv(real, syn) == {"c": 1.0}
    # Missing is a category: real all "a", synthetic half missing -> TV 0.5.
    half_missing = pd.DataFrame({"c": ["a", None, "a", None]})
    assert m.column_tv(pd.DataFrame({"c": ["a"] * 4}), half_missing) == {"c": 0.5}


def test_correlation_distance_sees_broken_dependence_and_handles_constants():
    real = gaussian_table(500, seed=0)
    broken = real.copy()
    broken["b"] = broken["b"].sample(frac=1.0, random_state=0).to_numpy()  # same marginal
    assert m.correlation_distance(real, broken) > 0.1
    constant = real.assign(k=1.0)
    value = m.correlation_distance(constant, constant.assign(k=2.0))
    assert np.isfinite(value) and value == pytest.approx(0.0, abs=1e-12)


# ---- image fidelity ---------------------------------------------------------------------
def test_image_features_are_deterministic_and_shaped(tiny_images):
    X, y = tiny_images
    first, second = m.image_features(X, y, hidden=16), m.image_features(X, y, hidden=16)
    assert first(X).shape == (len(X), 16)
    np.testing.assert_array_equal(first(X), second(X))
    colour = np.repeat(X[:, None], 3, axis=1)  # [N, C, H, W]
    assert m.image_features(colour, y, hidden=8)(colour).shape == (len(X), 8)


def test_frechet_distance_known_answers():
    rng = np.random.default_rng(0)
    feat = rng.normal(size=(400, 6))
    assert m.frechet_distance(feat, feat.copy()) == pytest.approx(0.0, abs=1e-6)
    # A pure mean shift d leaves the covariance unchanged: distance = |d|^2.
    shift = np.array([3.0, 0, 0, 4.0, 0, 0])
    assert m.frechet_distance(feat, feat + shift) == pytest.approx(25.0, rel=1e-6)
    # Singular covariances (a dead feature) must not break it.
    dead = np.hstack([feat, np.zeros((400, 1))])
    assert m.frechet_distance(dead, dead) == pytest.approx(0.0, abs=1e-6)


def test_prdc_identical_far_and_fresh_samples():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    same = m.prdc(real, real.copy(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(6 / 5)  # each real ball holds its k neighbours + itself
    far = m.prdc(real, real + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    fresh = m.prdc(real, rng.normal(size=(300, 4)), k=5)
    assert fresh["density"] == pytest.approx(1.0, abs=0.25)
    assert min(fresh["precision"], fresh["recall"], fresh["coverage"]) > 0.7


# ---- detection --------------------------------------------------------------------------
def test_detection_auc_tables():
    real = gaussian_table(300, seed=0)
    assert m.detection_auc(real, gaussian_table(300, seed=1, shift=8.0)) > 0.95
    assert m.detection_auc(real, gaussian_table(300, seed=1)) == pytest.approx(0.5, abs=0.15)


def test_detection_auc_images():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 100, size=(200, 6, 6)).astype(np.uint8)
    fresh = rng.integers(0, 100, size=(200, 6, 6)).astype(np.uint8)
    assert m.detection_auc(real, fresh + 150) > 0.95
    assert m.detection_auc(real, fresh) == pytest.approx(0.5, abs=0.15)


def test_detection_auc_rejects_mixed_inputs(tiny_images):
    with pytest.raises(TypeError):
        m.detection_auc(gaussian_table(10, seed=0), tiny_images[0])


# ---- privacy ----------------------------------------------------------------------------
def test_privacy_of_a_copy_with_nans(mixed_table):
    X, _ = mixed_table
    holdout, _ = make_mixed_table(n=240, seed=1)
    dcr = m.distance_to_closest_record(X, X.copy())
    assert dcr.shape == (len(X),) and np.all(dcr == 0.0)
    result = m.privacy(X, X.copy(), holdout)
    assert result["exact_copy_share"] == 1.0  # rows with NaNs still count as copies
    assert result["dcr_syn_median"] == 0.0 and result["dcr_ratio"] == 0.0
    assert result["dcr_holdout_median"] > 0.0
    assert result["duplicate_share"] == result["holdout_duplicate_share"] == 0.0
    json.dumps(result)


def test_privacy_of_a_fresh_sample_and_of_a_collapsed_one(mixed_table):
    X, _ = mixed_table
    fresh, _ = make_mixed_table(n=240, seed=2)
    holdout, _ = make_mixed_table(n=240, seed=3)
    result = m.privacy(X, fresh, holdout)
    assert result["exact_copy_share"] == 0.0
    assert result["dcr_ratio"] == pytest.approx(1.0, abs=0.25)
    collapsed = pd.concat([fresh.iloc[[5]]] * 100, ignore_index=True)
    assert m.privacy(X, collapsed, holdout)["duplicate_share"] == pytest.approx(0.99)


def test_privacy_images(tiny_images):
    X, _ = tiny_images
    result = m.privacy(X, X.astype(np.float32), X[::-1])  # same values, other dtype
    assert result["exact_copy_share"] == 1.0 and result["dcr_syn_median"] == 0.0
    collapsed = np.repeat(X[:1], 50, axis=0)
    assert m.privacy(X, collapsed, X)["duplicate_share"] == pytest.approx(49 / 50)


# ---- utility ----------------------------------------------------------------------------
def test_utility_with_synthetic_equal_to_real_tables():
    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["cat"] = pd.Series(np.where(X[:, 0] > 0, "hi", "lo"), dtype="str")
    labels = np.where(y == 1, "yes", "no")  # string labels
    train, val = frame.iloc[:400], frame.iloc[400:]
    result = m.utility(train, labels[:400], train.copy(), labels[:400], val, labels[400:])
    assert result["real_macro_f1"] > 0.8  # the mean over refits on bootstrapped rows
    assert result["tstr_macro_f1"] == m.tstr(train, train, labels[:400], val, labels[400:])
    assert result["tstr_macro_f1"] == pytest.approx(result["real_macro_f1"], abs=0.03)
    assert result["augmented_delta"] == pytest.approx(
        result["augmented_macro_f1"] - result["real_macro_f1"])
    assert result["augmented_delta_low"] < 0 < result["augmented_delta_high"]  # copies: no change
    json.dumps(result)


def test_utility_images_and_one_class_synthetic(tiny_images):
    X, y = tiny_images
    result = m.utility(X, y, X.copy(), y.copy(), X, y)
    assert result["real_macro_f1"] == result["tstr_macro_f1"] == 1.0
    one_class = m.utility(X, y, X[y == 0], y[y == 0], X, y)
    assert one_class["tstr_macro_f1"] is None and one_class["tstr_classes_covered"] == "1/3"
    assert one_class["real_macro_f1"] == 1.0 and result["tstr_classes_covered"] == "3/3"


def test_utility_cache_reuses_the_real_only_refits_and_nothing_else(tmp_path, monkeypatch):
    """A second gate on the same real rows skips the real-only refits and returns exactly
    what refitting gives; other validation rows, a corrupt entry or no cache refit."""
    X, y = make_classification(n_samples=500, n_features=6, n_informative=4, random_state=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    labels = np.where(y == 1, "yes", "no")
    train, val, syn_a, syn_b = frame.iloc[:250], frame.iloc[250:350], frame.iloc[350:450], frame.iloc[400:]
    args_a = (train, labels[:250], syn_a, labels[350:450], val, labels[250:350])
    args_b = (train, labels[:250], syn_b, labels[400:], val, labels[250:350])
    fits = []
    real_fit = m._fit_predict
    monkeypatch.setattr(m, "_fit_predict", lambda *a: fits.append(len(a[0])) or real_fit(*a))

    cache = tmp_path / "cache"
    plain_b = m.utility(*args_b, reps=3)
    assert len(fits) == 3 + 3 + 1  # real-only refits, augmented refits, TSTR
    fits.clear()
    m.utility(*args_a, reps=3, cache=cache)
    assert len(fits) == 7 and len(list(cache.glob("*.npy"))) == 1
    fits.clear()
    cached_b = m.utility(*args_b, reps=3, cache=cache)
    assert len(fits) == 3 + 1 and cached_b == plain_b  # the same figures, three fits fewer

    fits.clear()
    m.utility(train, labels[:250], syn_b, labels[400:], val.iloc[:60], labels[250:310], reps=3,
              cache=cache)
    assert len(fits) == 7 and len(list(cache.glob("*.npy"))) == 2  # other rows: a new key
    for entry in cache.glob("*.npy"):
        entry.write_bytes(b"truncated")
    fits.clear()
    assert m.utility(*args_b, reps=3, cache=cache) == plain_b and len(fits) == 7
