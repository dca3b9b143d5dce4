"""Per-row filters run before the gate: drop the synthetic rows that do not belong, and
sample replacements so every class still gets exactly the rows it asked for.

Each filter has `fit(real_train, real_holdout)` and `score(X, y)` (one number per row)
and flags the rows on the wrong side of a threshold calibrated on real held-out rows,
so a known share of *real* rows would pass:

- `AnomalyFilter` (on by default): a conditional VAE of our own family, trained on the
  real training split (or the generator itself when it is a VAE), scores each row by
  its negative ELBO under its label (`VAEGenerator.score_rows`). Rows above the `q`
  quantile of the real holdout's scores are dropped: off-manifold rows, broken joint
  structure, and rows whose label does not fit them.
- `MemorisationFilter` (on by default): distance to the closest real training row in
  the gate's encoded space (metrics.py); rows closer than the `alpha` quantile of the
  real holdout's distances are dropped, exact copies always.
- `LabelFilter` (off by default): a classifier trained on the real training rows (the
  gate's utility classifier) must give the row's own class a probability of at least `p`.

`filter_sample` draws the requested rows, drops the flagged ones and draws again with
derived seeds until every class is full (at most `max_rounds` rounds), and returns the
kept rows with a `FilterSummary` of what each filter dropped per class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from augment.config import SEED, SEED_MAX, SHARE, Range
from augment.errors import DataError
from augment.validate import metrics as mx
from augment.validate.gate import LabelledData

FILTERS = ("anomaly", "memorisation", "label")


# ---- configuration (section `filter` of params.yaml) -----------------------------------
@dataclass(frozen=True)
class AnomalyConfig:
    """enabled: run the filter; q: share of real holdout rows whose score passes."""

    enabled: bool = True
    q: float = 0.99

    RANGES: ClassVar[dict[str, Range]] = {"q": Range(0, 1, low_open=True)}


@dataclass(frozen=True)
class MemorisationConfig:
    """enabled: run the filter; alpha: share of real holdout rows that would be dropped
    (their distance to the training rows is below the threshold). Exact copies always go."""

    enabled: bool = True
    alpha: float = 0.01

    RANGES: ClassVar[dict[str, Range]] = {"alpha": Range(0, 1, high_open=True)}


@dataclass(frozen=True)
class LabelConfig:
    """enabled: run the filter; p: least probability of the row's own class."""

    enabled: bool = False
    p: float = 0.5

    RANGES: ClassVar[dict[str, Range]] = {"p": SHARE}


@dataclass(frozen=True)
class FilterConfig:
    """The filters and the refill loop.

    max_rounds: sampling rounds after the first before a class that is still short is
        an error. max_draw: at most this many rows drawn per requested row and class.
    shown: the worst dropped rows kept per filter for the report.
    seed: seeds the anomaly VAE and the label classifier.
    """

    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    memorisation: MemorisationConfig = field(default_factory=MemorisationConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    max_rounds: int = 8
    max_draw: float = 10.0
    shown: int = 6
    seed: int = 0

    RANGES: ClassVar[dict[str, Range]] = {"max_draw": Range(1), "shown": Range(0), "seed": SEED,
                                          "max_rounds": Range(0)}

    @property
    def enabled(self) -> list[str]:
        return [name for name in FILTERS if getattr(self, name).enabled]


# ---- the filters --------------------------------------------------------------------------
class RowFilter(Protocol):
    """What `filter_sample` needs of a filter."""

    name: str
    threshold_: float
    holdout_pass_: float

    def fit(self, train: LabelledData, holdout: LabelledData) -> RowFilter: ...

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray: ...

    def flags(self, scores: np.ndarray) -> np.ndarray: ...


class AnomalyFilter:
    """Drops rows whose negative ELBO under a VAE of the real rows is beyond the `q`
    quantile of real holdout rows. `model`: a fitted VAE to reuse (it must have been
    trained on the same real training split); `vae_params`: hyperparameters of the one
    trained otherwise."""

    name = "anomaly"
    higher_is_worse = True

    def __init__(self, q: float = 0.99, model: Any = None, vae_params: Mapping[str, Any] | None = None,
                 seed: int = 0) -> None:
        self.q, self.model, self.seed = q, model, seed
        self.vae_params = dict(vae_params or {})

    def fit(self, train: LabelledData, holdout: LabelledData) -> AnomalyFilter:
        from augment.generators import get_generator

        if self.model is None:
            params = {**self.vae_params, "seed": self.seed, "progress": "never"}
            self.model = get_generator("vae", **params).fit(train.X, train.y)
        elif getattr(self.model, "name", None) != "vae":
            raise DataError(f"the anomaly filter needs a VAE, got a {getattr(self.model, 'name', '?')} model")
        held = self.score(holdout.X, holdout.y)
        self.threshold_ = float(np.quantile(held, self.q))
        self.holdout_pass_ = float(np.mean(~self.flags(held)))
        return self

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        """Negative ELBO [N] of each row under its label."""
        return self.model.score_rows(X, y)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return scores > self.threshold_


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
        self.train_X = train.X
        self.train_keys_ = set(mx._row_keys(train.X))
        held = mx.distance_to_closest_record(train.X, holdout.X)
        self.threshold_ = float(np.quantile(held, self.alpha)) if self.alpha > 0 else 0.0
        self.holdout_pass_ = float(np.mean(~self.flags(self.score(holdout.X, holdout.y))))
        return self

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        distance = mx.distance_to_closest_record(self.train_X, X)
        copies = np.fromiter((key in self.train_keys_ for key in mx._row_keys(X)), bool, len(distance))
        return np.where(copies, -1.0, distance)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return (scores < self.threshold_) | (scores < 0)

    def nearest(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Index [N] of each row's closest training row."""
        from sklearn.neighbors import NearestNeighbors

        enc_train, enc = mx._shared_space(self.train_X, X)
        return NearestNeighbors(n_neighbors=1).fit(enc_train).kneighbors(enc, return_distance=False)[:, 0]


class LabelFilter:
    """Drops rows to whose label a classifier trained on real rows gives a probability
    below `p`. Score: that probability."""

    name = "label"
    higher_is_worse = False

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        self.p, self.seed = p, seed

    def fit(self, train: LabelledData, holdout: LabelledData) -> LabelFilter:
        from augment.classifiers import utility_classifier

        self.train_X = train.X
        _, (enc,) = mx._encoded(train.X)
        (labels,) = mx._labels(train.y)
        self.model_ = utility_classifier(train.is_table, self.seed).fit(enc, labels)
        self.classes_ = list(self.model_.classes_)
        self.threshold_ = self.p
        self.holdout_pass_ = float(np.mean(~self.flags(self.score(holdout.X, holdout.y))))
        return self

    def score(self, X: pd.DataFrame | np.ndarray, y: np.ndarray) -> np.ndarray:
        _, (_, enc) = mx._encoded(self.train_X, X)
        (labels,) = mx._labels(np.asarray(y))
        proba = self.model_.predict_proba(enc)
        column = {c: i for i, c in enumerate(self.classes_)}
        index = np.array([column.get(label, -1) for label in labels.tolist()])
        return np.where(index >= 0, proba[np.arange(len(index)), np.maximum(index, 0)], 0.0)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return scores < self.p


def build_filters(config: FilterConfig, model: Any = None,
                  vae_params: Mapping[str, Any] | None = None) -> list[RowFilter]:
    """The enabled filters of `config`, unfitted. `model`: the generator whose rows are
    filtered (reused by the anomaly filter when it is a VAE)."""
    out: list[RowFilter] = []
    if config.anomaly.enabled:
        reuse = model if getattr(model, "name", None) == "vae" else None
        out.append(AnomalyFilter(config.anomaly.q, reuse, vae_params, seed=config.seed))
    if config.memorisation.enabled:
        out.append(MemorisationFilter(config.memorisation.alpha))
    if config.label.enabled:
        out.append(LabelFilter(config.label.p, seed=config.seed))
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
        drawn / dropped / requested: {class: rows} sampled in all rounds / flagged by any
            filter / asked for (rows drawn beyond the request and unflagged are unused).
        rounds: sampling rounds after the first.
        worst: per filter, up to `shown` dropped rows (positions in `dropped`) worst first.
    """

    filters: dict[str, dict[str, Any]]
    drawn: dict[str, int]
    dropped: dict[str, int]
    requested: dict[str, int]
    rounds: int
    worst: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figures(self) -> dict[str, float]:
        """Flat scalar figures ("anomaly.share": 0.012) for gate.json and dvc metrics."""
        out = {f"{name}.share": float(f["share_all"]) for name, f in self.filters.items()}
        drawn, dropped = sum(self.drawn.values()), sum(self.dropped.values())
        out["dropped_share"] = float(dropped / drawn) if drawn else 0.0
        out["rounds"] = float(self.rounds)
        return out


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
                  filters: list[RowFilter], config: FilterConfig | None = None
                  ) -> tuple[pd.DataFrame | np.ndarray, np.ndarray, FilterSummary,
                             tuple[pd.DataFrame | np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """Exactly `counts[c]` rows of each class that pass every fitted filter.

    Round 0 samples `counts` with `seed`; each later round samples, for the classes still
    short, the missing rows divided by the class's pass rate so far (x1.2, at least 8)
    with the seed `round_seed(seed, r)`, until every class is full. Deterministic for a
    seed. Rows are grouped by class in the order of `counts`, kept rows in draw order.

    Returns:
        (X, y, summary, dropped): the kept rows, the FilterSummary, and (X, y, {filter:
        score [M]}) of the rows shown as worst dropped ones.

    Raises:
        DataError naming the class and the share dropped when a class is still short
        after `max_rounds` rounds or `max_draw` rows drawn per row requested.
    """
    config = config or FilterConfig()
    wanted = {label: int(n) for label, n in counts.items()}
    ask = {label: n for label, n in wanted.items() if n > 0}
    if not ask:  # nothing to draw: the generator's own (empty) output
        X, y = generator.sample(wanted, seed=seed)
        zero = {str(k): 0 for k in wanted}
        return X, y, FilterSummary({}, zero, zero, zero, 0), (None, y, {})
    pools: dict[Any, list] = {label: [] for label in wanted}  # kept (X, y) parts per class
    kept, drawn = dict.fromkeys(wanted, 0), dict.fromkeys(wanted, 0)
    flagged = {f.name: dict.fromkeys(wanted, 0) for f in filters}
    dropped = dict.fromkeys(wanted, 0)  # rows flagged by any filter
    dropped_parts: list[tuple[Any, np.ndarray, dict[str, np.ndarray]]] = []
    refills = 0
    while True:
        X, y = generator.sample(ask, seed=round_seed(seed, refills))
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
        if not ask:
            break
        if spent or refills == config.max_rounds:
            _raise_short(ask, wanted, kept, drawn, flagged, refills)
        refills += 1
    parts = [part for label in wanted for part in pools[label] if len(part[1])]
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
                            {str(k): v for k, v in wanted.items()}, refills)
    dropped = _worst_dropped(dropped_parts, filters, config.shown, summary)
    return X_out, y_out, summary, dropped


def _raise_short(ask: dict, wanted: dict, kept: dict, drawn: dict, flagged: dict, refills: int
                 ) -> None:
    """DataError naming each class still short, the share of its rows dropped and the
    filter that dropped most of them."""
    lines = []
    for label in ask:
        worst = max(flagged, key=lambda name: flagged[name][label]) if flagged else "none"
        lines.append(f"class {label!r}: {kept[label]}/{wanted[label]} rows kept, "
                     f"{1 - kept[label] / drawn[label]:.0%} of {drawn[label]} drawn were dropped "
                     f"(most by the {worst} filter)")
    raise DataError(f"the filters dropped too many rows to fill the request after {refills} "
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
