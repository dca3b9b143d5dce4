"""The paired bootstrap comparison of macro-F1 (augment/validate/compare.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from augment.validate.compare import paired_macro_f1


def noisy(y: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(len(y)) < keep, y, rng.integers(0, 3, len(y)))


def test_figures_match_scikit_learn_and_bounds_hold_the_change():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    a, b = noisy(y, 0.6, rng), noisy(y, 0.8, rng)
    result = paired_macro_f1(y, a, b)
    assert result.base == pytest.approx(f1_score(y, a, average="macro"))
    assert result.new == pytest.approx(f1_score(y, b, average="macro"))
    assert result.low < result.delta < result.high and result.rows == 300
    assert result.helps() and not result.harms()
    assert result == paired_macro_f1(y, a, b)  # deterministic for a seed


def test_identical_predictions_neither_help_nor_harm_and_labels_may_be_strings():
    y = np.array(["cat", "dog", "eel"] * 40)
    pred = np.roll(y, 1)
    result = paired_macro_f1(y, pred, pred.copy())
    assert result.delta == result.low == result.high == 0
    assert not result.helps() and not result.harms()


def test_the_interval_narrows_with_more_rows_and_catches_a_clear_harm():
    rng = np.random.default_rng(1)
    widths = []
    for n in (100, 3000):
        y = rng.integers(0, 3, n)
        result = paired_macro_f1(y, noisy(y, 0.8, rng), noisy(y, 0.78, rng))
        widths.append(result.high - result.low)
    assert widths[1] < widths[0] / 3
    y = rng.integers(0, 3, 500)
    worse = paired_macro_f1(y, noisy(y, 0.9, rng), noisy(y, 0.5, rng))
    assert worse.harms() and worse.harms(tolerance=0.1) and not worse.harms(tolerance=0.5)


def test_bad_input_is_an_error():
    with pytest.raises(ValueError, match="same number"):
        paired_macro_f1(np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="confidence"):
        paired_macro_f1(np.zeros(3), np.zeros(3), np.zeros(3), confidence=1.0)
