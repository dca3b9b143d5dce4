"""One noise-aware comparison of two classifiers' macro-F1 on the same rows.

Used by the gate's utility check (does augmenting lower validation macro-F1 beyond its
noise?) and by `augment.Augmenter` (does a candidate raise it beyond its noise?), so the
two answer the same question the same way.

Two sources of noise, both resampled:
- the training rows: `refit_predictions` fits the baseline (real rows) and the
  candidate (real + synthetic rows) REPS times, each time on a per-class bootstrap of
  the real rows and of the synthetic rows (with a derived classifier seed), and keeps
  both prediction sets of the scored rows [REPS, N]. One fit on a 600-row table with
  noisy labels moved validation macro-F1 by -0.06 when 200 more *real* rows were added;
  the refits show that as noise instead of harm.
- the scored rows: `paired_macro_f1` draws `resamples` bootstrap samples of the N rows,
  each with one refit drawn at random, and takes the macro-F1 difference of the pair on
  that sample. The one-sided bounds of the change at `confidence` are its
  (1 - confidence) and `confidence` quantiles.

Why not re-split: the gate's scored rows are a validation split the generator never
saw; moving training rows, which the generator may have memorised, into it would flatter
a copying generator. Pairing matters: both classifiers are scored on the same rows and
refit, so what is hard for both cancels out and the interval is far narrower than two
separate ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

N_BOOT = 2000  # resamples; the bounds' own Monte-Carlo error is then about 0.001
CONFIDENCE = 0.95  # one-sided
REPS = 5  # refits of each classifier on bootstrapped training rows
# OpenMP threads of the refitted classifiers. HistGradientBoosting's OpenMP threads spin
# while they wait: with another busy process on the cores (a second fit, a test run), a
# 400-row fit took 23.7 s with 2 threads against 0.23 s with 1, and the gate's ten refits
# stalled an Airflow test for twenty minutes. One thread costs at most the parallel
# speed-up (under 2x on 2 cores) and is never 100x slower.
CLASSIFIER_THREADS = 1
_CHUNK = 250  # resamples per matrix product (memory: _CHUNK x N weights)

FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Comparison:
    """Macro-F1 of a baseline and a candidate on the same rows, with the noise of the change.

    Attributes:
        base, new: macro-F1 (0..1) of the two prediction sets on all rows.
        delta: new - base.
        low, high: one-sided bounds of delta at `confidence` (paired bootstrap).
        sd: bootstrap standard deviation of delta.
        confidence: the one-sided confidence of low and high.
        rows: rows scored; reps: refits per classifier; resamples: bootstrap resamples.
    """

    base: float
    new: float
    delta: float
    low: float
    high: float
    sd: float
    confidence: float
    rows: int
    reps: int
    resamples: int

    def harms(self, tolerance: float = 0.0) -> bool:
        """The candidate is worse than the baseline by more than `tolerance` beyond noise:
        even the optimistic bound of the change lies below -tolerance."""
        return self.high < -tolerance

    def helps(self, margin: float = 0.0) -> bool:
        """The candidate is better than the baseline by more than `margin` beyond noise."""
        return self.low > margin

    def describe(self) -> str:
        """One phrase: 'macro-F1 0.501 -> 0.471 (change -0.030, 95% bounds -0.071..+0.012
        over 200 rows)'."""
        return (f"macro-F1 {self.base:.3f} -> {self.new:.3f} (change {self.delta:+.3f}, "
                f"one-sided {self.confidence:.0%} bounds {self.low:+.3f}..{self.high:+.3f} "
                f"over {self.rows} rows)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _indicators(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """[N, 3C] 0/1 columns: true positive, false positive, false negative per class."""
    truth = y[:, None] == classes[None, :]
    said = pred[:, None] == classes[None, :]
    return np.hstack([truth & said, ~truth & said, truth & ~said]).astype(np.float64)


def _macro_f1(counts: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Macro-F1 per resample from summed indicators [B, 3C] and class support [B, C];
    classes absent from a resample are left out of its average (as f1_score over the
    resample's own classes does), a class with no true or predicted row scores 0."""
    c = support.shape[1]
    tp, fp, fn = counts[:, :c], counts[:, c : 2 * c], counts[:, 2 * c :]
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    present = support > 0
    return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def paired_macro_f1(y: np.ndarray, pred_base: np.ndarray, pred_new: np.ndarray,
                    confidence: float = CONFIDENCE, resamples: int = N_BOOT, seed: int = 0
                    ) -> Comparison:
    """Compare two prediction sets of the same true labels y [N] by macro-F1.

    pred_base, pred_new: [N], or [R, N] for R paired refits (row r of both from the same
    resampled training rows); base and new are then the mean over refits. Macro-F1
    averages over the classes present in y (a prediction of another label is a miss).
    Deterministic for a seed.
    """
    y = np.asarray(y)
    pred_base, pred_new = np.atleast_2d(pred_base), np.atleast_2d(pred_new)
    if pred_base.shape != pred_new.shape or pred_base.shape[1] != len(y) or len(y) == 0:
        raise ValueError(f"need the same number of labels and predictions, got {len(y)}, "
                         f"{pred_base.shape}, {pred_new.shape}")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    if not all(a.dtype.kind in "biuf" for a in (y, pred_base, pred_new)):
        y, pred_base, pred_new = y.astype(str), pred_base.astype(str), pred_new.astype(str)
    classes = np.unique(y)
    reps, n = pred_base.shape
    base_ind = [_indicators(y, p, classes) for p in pred_base]
    new_ind = [_indicators(y, p, classes) for p in pred_new]
    truth = (y[:, None] == classes[None, :]).astype(np.float64)
    full = np.ones((1, n))
    base = float(np.mean([_macro_f1(full @ i, full @ truth)[0] for i in base_ind]))
    new = float(np.mean([_macro_f1(full @ i, full @ truth)[0] for i in new_ind]))
    rng = np.random.default_rng(seed)
    deltas = []
    for begin in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - begin)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float64)
        refit = rng.integers(0, reps, size)  # one refit per resample
        support = weights @ truth
        each = np.stack([_macro_f1(weights @ new_ind[r], support) - _macro_f1(weights @ base_ind[r], support)
                         for r in range(reps)])  # [R, size]
        deltas.append(each[refit, np.arange(size)])
    delta = np.concatenate(deltas)
    return Comparison(base=base, new=new, delta=new - base,
                      low=float(np.quantile(delta, 1 - confidence)),
                      high=float(np.quantile(delta, confidence)), sd=float(delta.std()),
                      confidence=confidence, rows=n, reps=reps, resamples=resamples)


def class_bootstrap(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of a bootstrap sample of y [N] drawn within each class (class counts kept)."""
    index = [rng.choice(np.flatnonzero(y == c), size=int((y == c).sum()), replace=True)
             for c in np.unique(y)]
    return np.sort(np.concatenate(index)) if index else np.zeros(0, dtype=np.int64)


def refit_predictions(fit_predict: FitPredict, train: tuple[np.ndarray, np.ndarray],
                      extra: tuple[np.ndarray, np.ndarray], X_scored: np.ndarray,
                      reps: int = REPS, seed: int = 0, base: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Predictions [R, N] of X_scored [N, ...] by a classifier trained on `train` (the
    baseline) and on `train` + `extra` (the candidate), refitted `reps` times.

    fit_predict(X, y, X_scored, seed) trains a classifier and predicts X_scored. Refit r
    uses a per-class bootstrap of both sets' rows and the classifier seed seed + r; the
    baseline and the candidate of a refit share the real rows drawn. reps=0: one fit of
    each on the rows as given. base: the baseline's predictions [R, N] from an earlier
    call with the same train, X_scored, reps, seed and classifier; its fits are skipped.
    """
    base, (new,) = refit_candidates(fit_predict, train, [extra], X_scored, reps, seed, base)
    return base, new


def refit_candidates(fit_predict: FitPredict, train: tuple[np.ndarray, np.ndarray],
                     extras: list[tuple[np.ndarray, np.ndarray]], X_scored: np.ndarray,
                     reps: int = REPS, seed: int = 0, base: np.ndarray | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
    """`refit_predictions` for several candidates at once: the baseline's predictions
    [R, N] (fitted once per refit, or `base` as given) and each candidate's [R, N], refit
    r of every candidate sharing the baseline's bootstrap of the real rows."""
    from threadpoolctl import threadpool_limits

    X, y = train
    fitted: list[np.ndarray] = []
    new: list[list[np.ndarray]] = [[] for _ in extras]
    with threadpool_limits(CLASSIFIER_THREADS):  # see CLASSIFIER_THREADS
        for r in range(max(reps, 1)):
            rng = np.random.default_rng([seed, r])
            pick = class_bootstrap(y, rng) if reps else np.arange(len(y))
            if base is None:
                fitted.append(fit_predict(X[pick], y[pick], X_scored, seed + r))
            for k, (X_extra, y_extra) in enumerate(extras):
                more = (class_bootstrap(y_extra, np.random.default_rng([seed, r, k + 1])) if reps
                        else np.arange(len(y_extra)))
                new[k].append(fit_predict(np.concatenate([X[pick], X_extra[more]]),
                                          np.concatenate([y[pick], y_extra[more]]), X_scored, seed + r))
    return (np.stack(fitted) if base is None else base), [np.stack(n) for n in new]
