"""Per-row filters run before the gate: drop the synthetic rows that do not belong, and
sample replacements so every class still gets exactly the rows it asked for.

Each filter has `fit(real_train, real_holdout)` (= fit on the training rows, then
`calibrate(real_holdout)`) and `score(X, y)` (one number per row), and flags the rows on
the wrong side of a threshold calibrated on real held-out rows (`calibrated_threshold`,
a conformal quantile), so a known share of *new real* rows would pass:

- `AnomalyFilter` (off by default): a conditional VAE of our own family, trained on the
  real training split (or the generator itself when it is a VAE), scores each row by
  its negative ELBO under its label (`VAEGenerator.score_rows`), beside the distance to
  its class's Gaussian in the VAE's encoded space, its ELBO margin over the other
  classes and (tables) how far its numbers lie outside the training range; rows beyond
  the `q` quantile of the real holdout's scores are dropped: off-manifold rows, broken
  joint structure, and rows whose label does not fit them.
- `MemorisationFilter` (on by default): distance to the closest real training row in
  the gate's encoded space (metrics.py); rows closer than the `alpha` quantile of the
  real holdout's distances are dropped, exact copies always.
- `LabelFilter` (off by default): a classifier trained on the real training rows (the
  gate's utility classifier) must give the row's own class a probability of at least
  `p`, or less where fewer than a share `q` of real holdout rows would pass at `p`.

`filter_sample` draws the requested rows, drops the flagged ones and draws again with
derived seeds until every class is full (at most `max_rounds` rounds), and returns the
kept rows with a `FilterSummary` of what each filter dropped per class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from augment.config import SEED_MAX
from augment.errors import DataError
from augment.validate import metrics as mx
from augment.validate.filter_config import FilterConfig
from augment.validate.gate import LabelledData


# ---- the filters --------------------------------------------------------------------------
def calibrated_threshold(holdout_scores: np.ndarray, share: float, higher_is_worse: bool) -> float:
    """The threshold on scores [N] of real holdout rows beyond which a new real row is
    flagged with probability at most max(`share`, 1 / (N + 1)), by exchangeability (a
    split-conformal quantile): the k-th largest score for an upper tail (flag above it),
    the k-th smallest for a lower tail (flag below it), k = max(1, floor(share (N + 1))).
    A plain quantile would flag up to 2 / (N + 1) of real rows on a small holdout.
    Non-finite scores count as the worst."""
    worst = np.inf if higher_is_worse else -np.inf
    values = np.sort(np.where(np.isfinite(holdout_scores), holdout_scores, worst))
    k = min(len(values), max(1, math.floor(share * (len(values) + 1))))
    return float(values[-k] if higher_is_worse else values[k - 1])


class RangeExcess:
    """How far a table row's numbers lie outside the training rows' range [N]: the
    largest, over numeric columns, of the distance beyond the column's min or max in
    units of its interquartile range (0 inside the range; a missing value counts 0). The
    VAE's transformer clips such values to its quantile map's ends, so neither the ELBO
    nor the copula view sees how far out they are."""

    def fit(self, transformer: Any, X: pd.DataFrame) -> RangeExcess:
        values = transformer.numeric_values(X)
        self.lo_, self.hi_ = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        q1, q3 = np.nanquantile(values, [0.25, 0.75], axis=0)
        width = np.where(q3 > q1, q3 - q1, self.hi_ - self.lo_)
        self.width_ = np.where(width > 0, width, 1.0)
        self.transformer_ = transformer
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        values = self.transformer_.numeric_values(X)
        excess = np.maximum(np.maximum(self.lo_ - values, values - self.hi_), 0.0) / self.width_
        return np.nan_to_num(excess, nan=0.0).max(axis=1)


class RowFilter(Protocol):
    """What `filter_sample` needs of a filter."""

    name: str
    threshold_: float
    holdout_pass_: float

    def fit(self, train: LabelledData, holdout: LabelledData) -> RowFilter: ...

    def calibrate(self, holdout: LabelledData) -> RowFilter: ...

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray: ...

    def flags(self, scores: np.ndarray) -> np.ndarray: ...


class ClassGaussians:
    """One Gaussian per class (Ledoit-Wolf shrunk covariance) of encoded rows [N, D]: a
    Gaussian-copula view of the joint structure, since the VAE's transformer maps each
    continuous column to normal scores. Rows wider than `max_dim` are first projected on
    their `max_dim` leading principal components (seeded)."""

    def __init__(self, max_dim: int = 256, seed: int = 0) -> None:
        self.max_dim, self.seed = max_dim, seed

    def fit(self, encoded: np.ndarray, labels: np.ndarray) -> ClassGaussians:
        from sklearn.covariance import LedoitWolf
        from sklearn.decomposition import PCA

        self.pca_ = None
        if encoded.shape[1] > self.max_dim:
            self.pca_ = PCA(self.max_dim, random_state=self.seed).fit(encoded)
            encoded = self.pca_.transform(encoded)
        self.models_ = {int(k): LedoitWolf().fit(encoded[labels == k]) for k in np.unique(labels)}
        return self

    def distance(self, encoded: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance [N] of each row to its class's Gaussian."""
        if self.pca_ is not None:
            encoded = self.pca_.transform(encoded)
        out = np.full(len(encoded), np.inf)  # a class without training rows: no pass
        for k, model in self.models_.items():
            rows = labels == k
            if rows.any():
                out[rows] = model.mahalanobis(encoded[rows])
        return out


class AnomalyFilter:
    """Drops rows that do not look like the real rows of their class, in up to three views:

    - the negative ELBO under a conditional VAE of the real rows (reconstruction +
      KL; `VAEGenerator.score_rows`): off-manifold rows, noise, wrong labels;
    - with `copula` (on unless turned off), the Mahalanobis distance to the class's Gaussian in the
      VAE's encoded space (`ClassGaussians`): rows whose columns do not go together. On
      breast_cancer the VAE's score misses rows whose columns were shuffled apart, this
      view catches them (bench/filters.py);
    - with `margin` (on unless turned off), the row's negative ELBO under its own label minus the
      lowest under any other label: a row another class explains better (the VAE as a
      generative classifier), which its own ELBO alone often lets through.

    - on tables, how far the row's numbers lie outside the training range (`RangeExcess`,
      in IQRs): the transformer clips such values, so the other views under-rate them.

    Each view is scaled by the real holdout so that its median is 0 and its `q`
    quantile 1 (the range view: 1 is at least one IQR out); the score is the largest of
    them, and the threshold the holdout's conformal `q` quantile of it
    (`calibrated_threshold`), so a new real row passes all views together with
    probability at least `q` (or N / (N + 1) on a holdout of N < 1 / (1 - q) rows).
    `model`: a fitted VAE to reuse (trained on the same real training split);
    `vae_params`: hyperparameters of the one trained otherwise.
    """

    name = "anomaly"
    higher_is_worse = True

    def __init__(self, q: float = 0.99, model: Any = None, vae_params: Mapping[str, Any] | None = None,
                 seed: int = 0, copula: bool = True, margin: bool = True) -> None:
        self.q, self.model, self.seed, self.copula, self.margin = q, model, seed, copula, margin
        self.vae_params = dict(vae_params or {})

    def fit(self, train: LabelledData, holdout: LabelledData) -> AnomalyFilter:
        from augment.generators import get_generator

        if self.model is None:
            params = {"seed": self.seed, **self.vae_params, "progress": "never"}
            self.model = get_generator("vae", **params).fit(train.X, train.y)
        elif getattr(self.model, "name", None) != "vae":
            raise DataError(f"the anomaly filter needs a VAE, got a {getattr(self.model, 'name', '?')} model")
        self.gaussians_ = None
        if self.copula:
            self.gaussians_ = ClassGaussians(seed=self.seed).fit(
                self._encoded(train.X), self.model.label_indices(train.y))
        self.range_ = None
        transformer = self.model.transformer_
        if isinstance(train.X, pd.DataFrame) and transformer.numeric_values(train.X) is not None:
            self.range_ = RangeExcess().fit(transformer, train.X)
        return self.calibrate(holdout)

    def calibrate(self, holdout: LabelledData) -> AnomalyFilter:
        """Scale each view and set the threshold on real holdout rows (the models stay)."""
        views = self._views(holdout.X, holdout.y)
        self.scales_ = []
        for view in views:
            finite = view[np.isfinite(view)]
            centre, top = np.median(finite), np.quantile(finite, self.q)
            self.scales_.append((float(centre), float(top - centre) or 1.0))
        if self.range_ is not None:  # 1.0 is at least one IQR beyond the training range:
            self.scales_[-1] = (0.0, max(self.scales_[-1][1], 1.0))  # real rows graze it
        held = self._combine(views)
        self.threshold_ = calibrated_threshold(held, 1 - self.q, higher_is_worse=True)
        self.holdout_pass_ = float(np.mean(~self.flags(held)))
        return self

    def _encoded(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        return self.model.transformer_.transform(X).reshape(len(X), -1).astype(np.float64)

    def _views(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        own = self.model.score_rows(X, y)
        views = [own]
        if self.gaussians_ is not None:
            views.append(self.gaussians_.distance(self._encoded(X), self.model.label_indices(y)))
        if self.margin:
            views.append(own - self._best_other(X, y))
        if self.range_ is not None:
            views.append(self.range_.score(X))
        return views

    def _best_other(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        """The lowest negative ELBO [N] of each row under any class but its own."""
        index = self.model.label_indices(y)
        best = np.full(len(index), np.inf)
        for k, label in enumerate(self.model.classes_):
            other = index != k
            if other.any():
                rows = np.flatnonzero(other)
                as_k = np.full(len(rows), label, dtype=object)
                best[rows] = np.minimum(best[rows], self.model.score_rows(_take(X, rows), as_k))
        return best

    def _combine(self, views: list[np.ndarray]) -> np.ndarray:
        scaled = [(v - centre) / scale for v, (centre, scale) in zip(views, self.scales_, strict=True)]
        return np.max(scaled, axis=0)

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        """The larger scaled view [N] (1.0: at the real holdout's `q` quantile of it)."""
        return self._combine(self._views(X, y))

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return ~np.isfinite(scores) | (scores > self.threshold_)  # a NaN score is no pass


class MemorisationFilter:
    """Drops rows closer to a real training row than the `alpha` quantile of real holdout
    rows' distances, and exact copies of training rows whatever `alpha` is. Score: the
    distance to the closest training row (in metrics.py's encoded space); -1 for an exact
    copy."""

    name = "memorisation"
    higher_is_worse = False

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = alpha

    def fit(self, train: LabelledData, holdout: LabelledData) -> MemorisationFilter:
        self.train_X_ = train.X
        self.train_keys_ = set(mx._row_keys(train.X))
        return self.calibrate(holdout)

    def calibrate(self, holdout: LabelledData) -> MemorisationFilter:
        """Set the threshold on real holdout rows (the training rows stay)."""
        held = self.score(holdout.X, holdout.y)
        distance = np.maximum(held, 0.0)  # a holdout row that copies a training row: 0
        self.threshold_ = (calibrated_threshold(distance, self.alpha, higher_is_worse=False)
                           if self.alpha > 0 else 0.0)
        self.holdout_pass_ = float(np.mean(~self.flags(held)))
        return self

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        distance = mx.distance_to_closest_record(self.train_X_, X)
        copies = np.fromiter((key in self.train_keys_ for key in mx._row_keys(X)), bool, len(distance))
        return np.where(copies, -1.0, distance)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return (scores < self.threshold_) | (scores < 0)


class LabelFilter:
    """Drops rows to whose label a classifier trained on real rows gives a probability
    below min(`p`, the 1 - `q` quantile of real rows' own-class probabilities). Score: that
    probability.

    The quantile is taken over the holdout and the training rows' out-of-fold
    probabilities (each from a classifier fitted without that row, CV_FOLDS stratified
    folds): both are rows the scoring classifier did not learn from. On a small holdout
    the conformal 1% quantile is otherwise its single least typical row (breast_cancer's
    85 rows alone: threshold 0.001, 72-78% of relabelled rows caught; the figures with
    the out-of-fold rows are in bench/results/filters.json)."""

    name = "label"
    higher_is_worse = False
    CV_FOLDS = 5

    def __init__(self, p: float = 0.5, q: float = 0.99, seed: int = 0) -> None:
        self.p, self.q, self.seed = p, q, seed

    def fit(self, train: LabelledData, holdout: LabelledData) -> LabelFilter:
        from augment.classifiers import utility_classifier

        self.train_X_ = train.X
        _, (enc,) = mx._encoded(train.X)
        (labels,) = mx._labels(train.y)
        self.model_ = utility_classifier(train.is_table, self.seed).fit(enc, labels)
        self.classes_ = list(self.model_.classes_)
        self.train_scores_ = self._out_of_fold(enc, labels, train.is_table)
        return self.calibrate(holdout)

    def _out_of_fold(self, enc: np.ndarray, labels: np.ndarray, is_table: bool) -> np.ndarray:
        """Own-class probability [N] of each training row from a classifier fitted on the
        other folds; empty when a class has fewer rows than two folds need."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        from augment.classifiers import utility_classifier

        folds = min(self.CV_FOLDS, int(np.unique(labels, return_counts=True)[1].min()))
        if folds < 2:
            return np.empty(0)
        cv = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        proba = cross_val_predict(utility_classifier(is_table, self.seed), enc, labels, cv=cv,
                                  method="predict_proba")
        return proba[np.arange(len(labels)), np.searchsorted(self.classes_, labels)]

    def calibrate(self, holdout: LabelledData) -> LabelFilter:
        """Set the threshold on real holdout rows and the training rows' out-of-fold
        scores (the classifier stays); `holdout_pass_` is the share of those that pass."""
        scores = np.concatenate([self.train_scores_, self.score(holdout.X, holdout.y)])
        self.threshold_ = min(self.p, calibrated_threshold(scores, 1 - self.q, higher_is_worse=False))
        self.holdout_pass_ = float(np.mean(~self.flags(scores)))
        return self

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        _, (_, enc) = mx._encoded(self.train_X_, X)
        (labels,) = mx._labels(np.asarray(y))
        proba = self.model_.predict_proba(enc)
        column = {c: i for i, c in enumerate(self.classes_)}
        index = np.array([column.get(label, -1) for label in labels.tolist()])
        return np.where(index >= 0, proba[np.arange(len(index)), np.maximum(index, 0)], 0.0)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return scores < self.threshold_


def summary_payload(summary: FilterSummary,
                    dropped: tuple[pd.DataFrame | np.ndarray | None, np.ndarray, dict[str, np.ndarray]],
                    train_X: pd.DataFrame | np.ndarray, config: Mapping[str, Any]) -> dict[str, Any]:
    """The filters.json payload: `summary` as a dict, its "worst" made {filter: [{"row":
    position in the dropped rows, "score", "nearest_train_row": index of the closest row
    of `train_X`}]}, and "config" (what the caller records of how the filters ran).

    dropped: (X, y, {filter: score [M]}) as `filter_sample` returns them (X None: none)."""
    X_drop, _, scores = dropped
    payload = summary.to_dict()
    if X_drop is not None:
        nearest = mx.closest_records(train_X, X_drop)[0].tolist()
        payload["worst"] = {name: [{"row": i, "score": float(scores[name][i]),
                                    "nearest_train_row": int(nearest[i])} for i in rows]
                            for name, rows in summary.worst.items()}
    payload["config"] = dict(config)
    return payload


def build_filters(config: FilterConfig, model: Any = None,
                  vae_params: Mapping[str, Any] | None = None) -> list[RowFilter]:
    """The enabled filters of `config`, unfitted. `model`: the generator whose rows are
    filtered (reused by the anomaly filter when it is a VAE)."""
    out: list[RowFilter] = []
    if config.anomaly.enabled:
        reuse = model if getattr(model, "name", None) == "vae" else None
        out.append(AnomalyFilter(config.anomaly.q, reuse, vae_params, seed=config.seed,
                                 copula=config.anomaly.copula, margin=config.anomaly.margin))
    if config.memorisation.enabled:
        out.append(MemorisationFilter(config.memorisation.alpha))
    if config.label.enabled:
        out.append(LabelFilter(config.label.p, config.label.q, seed=config.seed))
    return out


def fit_filters(filters: list[RowFilter], train: LabelledData, holdout: LabelledData
                ) -> list[RowFilter]:
    """Fit each filter on the real training rows, calibrating on the real holdout."""
    if len(holdout.y) < 10:
        raise DataError(f"the real holdout has {len(holdout.y)} rows; calibrating a filter "
                        "threshold needs at least 10")
    return [f.fit(train, holdout) for f in filters]


# ---- exact counts ---------------------------------------------------------------------
@dataclass
class FilterSummary:
    """What the filters did to one synthetic set.

    Attributes:
        filters: {name: {"threshold", "holdout_pass", "flagged": {class: rows},
            "share": {class: flagged / drawn}, "share_all"}}.
        drawn / dropped / kept / requested: {class: rows} sampled in all rounds / flagged
            by any filter / kept / asked for (unflagged rows drawn beyond the request are
            unused; kept < requested only when there was nothing to refill from).
        rounds: sampling rounds after the first.
        short: why some class is short of its request (None when every class is full).
        worst: per filter, up to `shown` dropped rows (positions in `dropped`) worst first.
    """

    filters: dict[str, dict[str, Any]]
    drawn: dict[str, int]
    dropped: dict[str, int]
    kept: dict[str, int]
    requested: dict[str, int]
    rounds: int
    worst: dict[str, list[int]] = field(default_factory=dict)
    short: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figures(self) -> dict[str, float]:
        """Flat scalar figures ("anomaly.share": 0.012), as `verdict.filter_figures`."""
        from augment.validate.verdict import filter_figures

        return filter_figures(self.to_dict())


def _take(X: pd.DataFrame | np.ndarray, index: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X.iloc[index].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[index]


def _concat(parts: list) -> pd.DataFrame | np.ndarray:
    if isinstance(parts[0], pd.DataFrame):
        return pd.concat(parts, ignore_index=True)
    return np.concatenate(parts)


def round_seed(seed: int, round_: int) -> int:
    """The sampling seed of refill round `round_` (0: `seed` itself)."""
    if round_ == 0:
        return seed
    return int(np.random.SeedSequence([seed, round_]).generate_state(1)[0]) % (SEED_MAX + 1)


def filter_sample(generator: Any, counts: Mapping[Any, int], seed: int,
                  filters: list[RowFilter], config: FilterConfig | None = None,
                  first: tuple[pd.DataFrame | np.ndarray, np.ndarray] | None = None,
                  strict: bool = True) -> tuple[pd.DataFrame | np.ndarray, np.ndarray, FilterSummary,
                             tuple[pd.DataFrame | np.ndarray | None, np.ndarray,
                                   dict[str, np.ndarray]]]:
    """Exactly `counts[c]` rows of each class that pass every fitted filter.

    Round 0 samples `counts` with `seed` (or takes the rows `first` = (X, y) given); each
    later round samples, for the classes still short, the missing rows divided by the
    class's pass rate so far (x1.2, at least 8) with the seed `round_seed(seed, r)`,
    until every class is full. Deterministic for a seed. Rows are grouped by class in the
    order of `counts`, kept rows in draw order. With `generator` None (rows given in
    `first`, nothing to draw more from) there is no refill: short classes stay short.

    Returns:
        (X, y, summary, dropped): the kept rows, the FilterSummary, and (X, y, {filter:
        score [M]}) of the rows shown as worst dropped ones (X None when none was).

    Raises:
        DataError naming the class and the share dropped when a class is still short
        after `max_rounds` rounds or `max_draw` rows drawn per row requested; with
        `strict` False that message goes into `summary.short` instead and the short
        classes keep what passed (the pipeline's gate then fails the set, naming it).
    """
    config = config or FilterConfig()
    if generator is None and first is None:
        raise DataError("filter_sample needs a generator to draw from or the rows to filter")
    wanted = {label: int(n) for label, n in counts.items()}
    ask = {label: n for label, n in wanted.items() if n > 0}
    if not ask:  # nothing to draw: the generator's own (empty) output
        X, y = first if first is not None else generator.sample(wanted, seed=seed)
        zero = {str(k): 0 for k in wanted}
        return X, y, FilterSummary({}, zero, zero, zero, zero, 0), (None, y, {})
    pools: dict[Any, list] = {label: [] for label in wanted}  # kept (X, y) parts per class
    kept, drawn = dict.fromkeys(wanted, 0), dict.fromkeys(wanted, 0)
    flagged = {f.name: dict.fromkeys(wanted, 0) for f in filters}
    dropped = dict.fromkeys(wanted, 0)  # rows flagged by any filter
    dropped_parts: list[tuple[Any, np.ndarray, dict[str, np.ndarray]]] = []
    refills, short = 0, None
    while True:
        X, y = first if first is not None and refills == 0 else generator.sample(
            ask, seed=round_seed(seed, refills))
        scores = {f.name: f.score(X, y) for f in filters}
        marks = {f.name: f.flags(scores[f.name]) for f in filters}
        bad = np.zeros(len(y), dtype=bool)
        for mark in marks.values():
            bad |= mark
        keys = np.asarray([str(v) for v in y.tolist()], dtype=object)
        for label in ask:
            rows = np.flatnonzero(keys == str(label))
            drawn[label] += len(rows)
            dropped[label] += int(bad[rows].sum())
            for name, mark in marks.items():
                flagged[name][label] += int(mark[rows].sum())
            good = rows[~bad[rows]][: wanted[label] - kept[label]]
            pools[label].append((_take(X, good), y[good]))
            kept[label] += len(good)
        if bad.any():
            worst = np.flatnonzero(bad)
            dropped_parts.append((_take(X, worst), y[worst], {k: v[worst] for k, v in scores.items()}))
        ask, spent = {}, False
        for label, n in wanted.items():
            missing = n - kept[label]
            if missing > 0:
                rate = max(kept[label] / drawn[label], 1.0 / config.max_draw)
                budget = math.floor(config.max_draw * n) - drawn[label]
                ask[label] = min(max(math.ceil(missing / rate * 1.2), 8), max(budget, 0))
                spent |= ask[label] < missing
        if not ask or generator is None:
            break
        if spent or refills == config.max_rounds:
            short = _short_message(ask, wanted, kept, drawn, flagged, refills)
            if strict:
                raise DataError(short)
            break
        refills += 1
    parts = [part for label in wanted for part in pools[label] if len(part[1])]
    parts = parts or [next(part for label in wanted for part in pools[label])]  # all dropped
    X_out = _concat([p[0] for p in parts])
    y_out = np.concatenate([p[1] for p in parts])
    summary_filters = {}
    total = sum(drawn.values())
    for f in filters:
        summary_filters[f.name] = {
            "threshold": float(f.threshold_), "holdout_pass": float(f.holdout_pass_),
            "flagged": {str(k): v for k, v in flagged[f.name].items()},
            "share": {str(k): (flagged[f.name][k] / drawn[k] if drawn[k] else 0.0) for k in wanted},
            "share_all": sum(flagged[f.name].values()) / total if total else 0.0}
    summary = FilterSummary(summary_filters, {str(k): v for k, v in drawn.items()},
                            {str(k): v for k, v in dropped.items()},
                            {str(k): v for k, v in kept.items()},
                            {str(k): v for k, v in wanted.items()}, refills, short=short)
    dropped = _worst_dropped(dropped_parts, filters, config.shown, summary)
    return X_out, y_out, summary, dropped


def _short_message(ask: dict, wanted: dict, kept: dict, drawn: dict, flagged: dict,
                   refills: int) -> str:
    """What to say of the classes still short: each one's rows kept, the share of its
    rows dropped and the filter that dropped most of them."""
    lines = []
    for label in ask:
        worst = max(flagged, key=lambda name: flagged[name][label]) if flagged else "none"
        lines.append(f"class {label!r}: {kept[label]}/{wanted[label]} rows kept, "
                     f"{1 - kept[label] / drawn[label]:.0%} of {drawn[label]} drawn were dropped "
                     f"(most by the {worst} filter)")
    return (f"the filters dropped too many rows to fill the request after {refills} "
            f"refill round(s): {'; '.join(lines)}. Loosen the filter (filter.anomaly.q, "
            "filter.memorisation.alpha, filter.label.p) or improve the generator")


def _worst_dropped(parts: list, filters: list[RowFilter], shown: int, summary: FilterSummary
                   ) -> tuple[Any, np.ndarray, dict[str, np.ndarray]]:
    """The `shown` worst rows each filter flagged (by its score), stacked; their positions
    per filter go into summary.worst."""
    if not parts or not shown:
        return None, np.zeros(0), {}
    X = _concat([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    scores = {f.name: np.concatenate([p[2][f.name] for p in parts]) for f in filters}
    chosen: list[int] = []
    for f in filters:
        mark = np.flatnonzero(f.flags(scores[f.name]))
        order = np.argsort(-scores[f.name][mark] if f.higher_is_worse else scores[f.name][mark],
                           kind="stable")
        picked = mark[order[:shown]]
        summary.worst[f.name] = [len(chosen) + i for i in range(len(picked))]
        chosen += picked.tolist()
    index = np.asarray(chosen, dtype=np.int64)
    return _take(X, index), y[index], {k: v[index] for k, v in scores.items()}
