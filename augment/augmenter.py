"""`Augmenter`: an imbalanced-learn-style sampler that picks the generator and the amount
by measurement and returns the real rows unchanged when nothing helps.

    from imblearn.pipeline import Pipeline
    from augment.augmenter import Augmenter
    model = Pipeline([("aug", Augmenter(sampling_strategy="search")), ("clf", clf)])

How it chooses (`fit_resample`):
1. Candidates: each family of `generator` x each amount of `sampling_strategy` (one
   amount, or `sampling.SEARCH_AMOUNTS` for "search"), a "mix" of the families that
   raised macro-F1 at the best amount, and "real rows only".
2. `cv` stratified folds of the training rows: on each fold, every family is fitted on
   the other folds and sampled at every amount; the scoring classifier is fitted on the
   other folds' real rows alone and with each candidate's rows, `refits` times on
   bootstrapped rows (compare.refit_candidates), and predicts the fold. Every training
   row is thus scored once by classifiers that never saw it, nor did the generator.
3. Each candidate is compared with real rows only on all out-of-fold predictions by the
   paired bootstrap of compare.py (the gate's utility check uses the same one). The
   candidate with the largest mean gain among those whose one-sided `confidence` lower
   bound is above 0 wins; when none is, the real rows come back unchanged, with a
   warning and the reason (do no harm).
4. The winner's families are fitted on all rows and sampled at the winner's amount.
`report_` holds every candidate's figures, the choice, the reason and the time taken.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from augment.data.schema import to_python
from augment.errors import ConfigError, DataError
from augment.sampling import SEARCH_AMOUNTS, NoRowsError, strategy_counts
from augment.validate.compare import CONFIDENCE, paired_macro_f1, refit_candidates

AUTO_FOLDS = 3  # cv="auto" below LARGE_ROWS rows
LARGE_ROWS = 5000  # from here cv="auto" is one split: 1 generator fit per family, not 3
HOLDOUT = 0.2  # the scored share of that split (1,000+ rows)
AUTO_EXCLUDED = ("translation",)  # maps a class onto another: not a sampler of a class
REAL_ONLY = "real rows only"


@dataclass
class Candidate:
    """One candidate's out-of-fold figures: macro-F1 of real rows only (base) and with
    its rows (new), the change and its one-sided bounds (compare.Comparison)."""

    name: str
    families: list[str]
    amount: Any
    base: float
    new: float
    delta: float
    low: float
    high: float


@dataclass
class AugmenterReport:
    """What `fit_resample` measured and chose; `str(report)` prints it."""

    chosen: str
    reason: str
    counts: dict[Any, int]
    candidates: list[Candidate] = field(default_factory=list)
    folds: int = 0
    refits: int = 0
    confidence: float = CONFIDENCE
    selection_s: float = 0.0
    final_fit_s: float = 0.0
    amount: Any = None  # the chosen amount (sampling_strategy form); None: real rows only
    best: str = ""  # the candidate with the largest gain, chosen or not

    @property
    def helps(self) -> bool:
        """Whether a candidate was chosen (else: real rows only)."""
        return self.chosen != REAL_ONLY

    def candidate(self, name: str) -> Candidate:
        """The candidate called `name` (e.g. `chosen` or `best`)."""
        return next(c for c in self.candidates if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures: the choice, the reason and every candidate."""
        from augment.io import json_safe

        payload = asdict(self)
        payload["amount"] = _amount_name(self.amount) if self.amount is not None else None
        for c in payload["candidates"]:
            c["amount"] = _amount_name(c["amount"])
        payload["counts"] = {str(k): int(v) for k, v in self.counts.items()}
        payload["helps"] = self.helps
        return json_safe(payload)

    def __str__(self) -> str:
        lines = [f"Augmenter chose {self.chosen}: {self.reason}",
                 f"  selection {self.selection_s:.1f} s ({self.folds} folds x {self.refits} "
                 f"classifier refits), final fit {self.final_fit_s:.1f} s; new rows {self.counts}",
                 f"  {'candidate':<34} {'macro-F1':>8} {'change':>7}  {self.confidence:.0%} bounds"]
        for c in sorted(self.candidates, key=lambda c: -c.delta):
            lines.append(f"  {c.name:<34} {c.new:8.4f} {c.delta:+7.4f}  {c.low:+.4f}..{c.high:+.4f}")
        return "\n".join(lines)


def _amount_name(amount: Any) -> str:
    if isinstance(amount, tuple):
        return f"{amount[0]} {amount[1]:g}"
    return repr(amount) if not isinstance(amount, str) else amount


def _split(counts: Mapping[Any, int], parts: int) -> list[dict[Any, int]]:
    """counts shared out over `parts` sources, the remainder to the first ones."""
    return [{c: n // parts + (1 if i < n % parts else 0) for c, n in counts.items()}
            for i in range(parts)]


class Augmenter(BaseEstimator):
    """Oversample with the generator family and amount that measure best, or not at all.

    Args:
        generator: a family name, a list of them, "auto" (every registered family but
            translation) or a fitted generator (used as is; only the amount is chosen,
            and its figures are optimistic when it saw the rows it is scored on).
        sampling_strategy: imbalanced-learn's forms ("auto", "minority", "not majority",
            "not minority", "all", a float for two classes, a dict {class: rows after}),
            ("balance" | "ratio", r) of `sampling.policy_counts`, or "search"
            (sampling.SEARCH_AMOUNTS).
        seed: every fold split, generator, classifier and bootstrap seed derives from it.
        classifier: the scoring classifier (an unfitted scikit-learn estimator, cloned);
            None = the gate's (HistGradientBoosting on tables, a forest on images).
        cv: "auto" (AUTO_FOLDS stratified folds below LARGE_ROWS rows, else one stratified
            split scoring HOLDOUT of them: the cost is one generator fit per family and
            split, and a large table's one split already scores thousands of rows), the
            number of stratified folds (>= 2), a scikit-learn splitter or (fitted rows,
            scored rows) index pairs.
        refits: classifier refits per fold on bootstrapped rows (0: one plain fit).
        confidence: one-sided confidence a candidate's gain must hold at.
        generator_params: {family: hyperparameters} for `get_generator`.
        image_shape: the image shape of flat rows (e.g. (8, 8) for sklearn's digits):
            the generators then see images, and the output is flat again.
    """

    def __init__(self, generator: Any = "auto", sampling_strategy: Any = "auto", seed: int = 0,
                 classifier: Any = None, cv: Any = "auto", refits: int = 3,
                 confidence: float = CONFIDENCE, generator_params: dict | None = None,
                 image_shape: tuple[int, ...] | None = None) -> None:
        self.generator = generator
        self.sampling_strategy = sampling_strategy
        self.seed = seed
        self.classifier = classifier
        self.cv = cv
        self.refits = refits
        self.confidence = confidence
        self.generator_params = generator_params
        self.image_shape = image_shape

    # ---- inputs ---------------------------------------------------------------------
    def _families(self) -> list[str]:
        from augment.generators.base import Generator
        from augment.generators.registry import available_generators

        if isinstance(self.generator, Generator):
            return []
        names = self.generator
        if names == "auto":
            return [g for g in available_generators() if g not in AUTO_EXCLUDED]
        names = [names] if isinstance(names, str) else list(names)
        known = available_generators()
        unknown = [g for g in names if g not in known]
        if unknown or not names:
            raise ConfigError(f"unknown generator {unknown or names}; use one of {', '.join(known)}, "
                              "a list of them, 'auto' or a fitted generator")
        return names

    def _amounts(self) -> list[Any]:
        if isinstance(self.sampling_strategy, str) and self.sampling_strategy == "search":
            return list(SEARCH_AMOUNTS)
        return [self.sampling_strategy]

    def _check(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        """(X as the generators take it, y [N]); errors name the problem."""
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"y must be one label per row of X: {len(X)} rows, labels of shape {y.shape}")
        if isinstance(self.cv, bool) or (isinstance(self.cv, int) and self.cv < 2):
            raise ConfigError(f"cv must be 'auto', an integer >= 2, a scikit-learn splitter or "
                              f"(fitted rows, scored rows) index pairs, got {self.cv!r}")
        if not isinstance(self.refits, int) or isinstance(self.refits, bool) or self.refits < 0:
            raise ConfigError(f"refits must be an integer >= 0, got {self.refits!r}")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, float | int) \
                or not 0.5 <= self.confidence < 1:
            raise ConfigError(f"confidence must be in [0.5, 1), got {self.confidence!r}")
        from augment.generators.registry import available_generators

        unknown = sorted(set(self.generator_params or {}) - set(available_generators()))
        if unknown:
            raise ConfigError(f"generator_params names unknown families {unknown}; use "
                              f"{', '.join(available_generators())}")
        self._folds = self._check_splits(y)
        if isinstance(X, pd.DataFrame):
            return X.reset_index(drop=True), y
        X = np.asarray(X)
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
            if int(np.prod(shape)) != int(np.prod(X.shape[1:])):
                raise DataError(f"rows of {X.shape[1:]} values do not make images of shape {shape}")
            return X.reshape(len(X), *shape), y
        if X.ndim == 2:
            if X.dtype.kind not in "biuf":
                raise DataError(f"a 2-D array X must be numeric, got dtype {X.dtype}; pass a DataFrame")
            return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), y
        return X, y

    def _output(self, X_in: Any, X: Any, y: np.ndarray, X_new: Any, y_new: np.ndarray
                ) -> tuple[Any, np.ndarray]:
        """The real rows then the new ones, in the caller's form (DataFrame or array)."""
        y_out = np.concatenate([y, np.asarray(y_new, dtype=y.dtype)])
        if isinstance(X_in, pd.DataFrame):
            return pd.concat([X, X_new[X.columns]], ignore_index=True), y_out
        X_in = np.asarray(X_in)
        new = X_new.to_numpy() if isinstance(X_new, pd.DataFrame) else np.asarray(X_new)
        return np.concatenate([X_in, new.reshape(len(new), *X_in.shape[1:]).astype(X_in.dtype)]), y_out

    # ---- pieces ---------------------------------------------------------------------
    def _seed(self, *keys: int) -> int:
        return int(np.random.SeedSequence([self.seed, *keys]).generate_state(1)[0] % 2**31)

    def _fit(self, family: str, X: Any, y: np.ndarray, seed: int):
        from augment.generators.registry import get_generator

        params = {"progress": "never", **(self.generator_params or {}).get(family, {}), "seed": seed}
        return get_generator(family, **params).fit(X, y)

    def _encode(self, reference: Any, *others: Any) -> tuple[Any, list[np.ndarray]]:
        """(fit_predict of the scoring classifier, [reference, *others] as numbers: tables
        encoded in the space of `reference`, the fold's training rows; images flat)."""
        from augment.validate import metrics as mx

        is_table, encoded = mx._encoded(reference, *others)

        def fit_predict(X: np.ndarray, y: np.ndarray, X_scored: np.ndarray, seed: int) -> np.ndarray:
            if self.classifier is None:
                return mx._fit_predict(X, y, X_scored, is_table, seed)
            model = clone(self.classifier)
            if "random_state" in model.get_params():
                model.set_params(random_state=seed)
            return model.fit(X, y).predict(X_scored)

        return fit_predict, encoded

    def _counts(self, y: np.ndarray, amount: Any) -> dict[Any, int] | None:
        """New rows per class for `amount`; None when it asks for none."""
        classes, n = np.unique(y, return_counts=True)
        train_counts = {to_python(c): int(k) for c, k in zip(classes, n, strict=True)}
        try:
            return strategy_counts(train_counts, amount)
        except NoRowsError:
            return None

    def _sample(self, models: dict[str, Any], families: list[str], counts: dict, seed: int):
        """Rows of `counts` from `families` (shared out evenly): (X, y)."""
        parts = [models[f].sample({c: n for c, n in share.items() if n}, seed=seed)
                 for f, share in zip(families, _split(counts, len(families)), strict=True)
                 if any(share.values())]
        if isinstance(parts[0][0], pd.DataFrame):
            X = pd.concat([p[0] for p in parts], ignore_index=True)
        else:
            X = np.concatenate([p[0] for p in parts])
        return X, np.concatenate([p[1] for p in parts])

    # ---- the call ---------------------------------------------------------------------
    def fit_resample(self, X: Any, y: Any) -> tuple[Any, np.ndarray]:
        """The real rows followed by the chosen candidate's new rows (X's form: a
        DataFrame, or an array of X's shape and dtype), or the real rows unchanged with a
        warning when no candidate raises out-of-fold macro-F1 beyond its noise."""
        from augment.generators.base import Generator

        started = time.perf_counter()
        X_in, y_in = X, y
        X, y = self._check(X, y)
        report = self._select(X, y, started)
        if not report.helps:
            self.generators_ = {}
            self.report_ = report
            warnings.warn(f"Augmenter returns the real rows unchanged: {report.reason}", UserWarning,
                          stacklevel=2)
            return X_in, np.asarray(y_in)
        chosen = report.candidate(report.chosen)
        if isinstance(self.generator, Generator):
            self.generators_ = {self.generator.name: self.generator}
        else:
            self.generators_ = {f: self._fit(f, X, y, self._seed(5, i))
                                for i, f in enumerate(chosen.families)}
        X_new, y_new = self._draw(self.generators_, chosen.families, y, chosen.amount, self._seed(6))
        report.counts = self._counts(y, chosen.amount)
        report.final_fit_s = round(time.perf_counter() - started - report.selection_s, 2)
        self.report_ = report
        return self._output(X_in, X, y, X_new, y_new)

    def select(self, X: Any, y: Any) -> AugmenterReport:
        """Score every candidate and choose, without the final fit: the report
        `fit_resample` would leave in `report_` (its counts are those of the chosen amount
        for y's class counts; final_fit_s 0)."""
        X, y = self._check(X, y)
        report = self._select(X, y, time.perf_counter())
        if report.helps:
            report.counts = self._counts(y, report.amount)
        return report

    def _check_splits(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(fitted rows, scored rows)] of the selection: `cv` stratified folds, or the
        pairs (or scikit-learn splitter) given as `cv`; a DataError names a class too small
        for the folds or a pair that does not index y."""
        from augment.generators.base import Generator

        classes, counts = np.unique(y, return_counts=True)
        if isinstance(self.cv, str) and self.cv == "auto":
            if len(y) < LARGE_ROWS:
                return self._stratified_folds(y, AUTO_FOLDS, classes, counts)
            self._check_class_sizes(classes, counts, 2, "the selection split needs a fitted "
                                    "and a scored row of every class")
            split = StratifiedShuffleSplit(1, test_size=HOLDOUT, random_state=self._seed(0))
            return list(split.split(np.zeros(len(y)), y))
        if isinstance(self.cv, int):
            return self._stratified_folds(y, self.cv, classes, counts)
        try:
            pairs = self.cv.split(np.zeros(len(y)), y) if hasattr(self.cv, "split") else self.cv
            splits = [(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)) for a, b in pairs]
        except (TypeError, ValueError) as err:
            raise ConfigError(f"cv must be 'auto', an integer >= 2, a scikit-learn splitter or "
                              f"(fitted rows, scored rows) index pairs: {err}") from err
        fitted_model = isinstance(self.generator, Generator)
        for k, (fit, scored) in enumerate(splits):
            if not len(fit) or not len(scored) or min(fit.min(), scored.min()) < 0 \
                    or max(fit.max(), scored.max()) >= len(y):
                raise DataError(f"cv split {k}: its fitted and scored rows must be non-empty "
                                f"indices of the {len(y)} rows")
            missing = set(classes.tolist()) - set(np.unique(y[fit]).tolist())
            if missing and not fitted_model:
                raise DataError(f"cv split {k}: classes {sorted(missing)} have no fitted rows, so "
                                "no generator can learn them")
        if not splits:
            raise ConfigError("cv gave no splits")
        return splits

    @staticmethod
    def _check_class_sizes(classes: np.ndarray, counts: np.ndarray, need: int, why: str) -> None:
        few = {to_python(c): int(n) for c, n in zip(classes, counts, strict=True) if n < need}
        if few:
            raise DataError(f"classes with fewer than {need} rows: {few}; {why}")

    def _stratified_folds(self, y: np.ndarray, folds: int, classes: np.ndarray,
                          counts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        self._check_class_sizes(classes, counts, 2 * folds, f"each of the {folds} selection "
                                "folds needs 2 rows of every class to fit a generator on the "
                                "others (lower cv)")
        return list(StratifiedKFold(folds, shuffle=True, random_state=self._seed(0))
                    .split(np.zeros(len(y)), y))

    def _select(self, X: Any, y: np.ndarray, started: float) -> AugmenterReport:
        """Steps 1-3 of the module docstring on checked inputs: the report of the choice."""
        from augment.generators.base import Generator

        classes = np.unique(y)
        codes = np.searchsorted(classes, y)
        families = self._families()
        sources = families or [self.generator.name]
        amounts = [a for a in self._amounts() if self._counts(y, a) is not None]
        if not amounts:
            return self._unchanged(started, f"sampling_strategy {self.sampling_strategy!r} asks "
                                   "for no new rows", [])
        names = [(s, a) for s in sources for a in amounts]
        splits = self._folds
        reps = max(self.refits, 1)
        base = np.zeros((reps, len(y)), dtype=np.int64)
        oof = [np.zeros((reps, len(y)), dtype=np.int64) for _ in names]
        scored_rows = np.zeros(len(y), dtype=bool)
        fold_models = []
        for k, (train, scored) in enumerate(splits):
            X_tr, X_te = self._rows(X, train), self._rows(X, scored)
            models = ({self.generator.name: self.generator} if isinstance(self.generator, Generator) else
                      {f: self._fit(f, X_tr, y[train], self._seed(1, k, i)) for i, f in enumerate(families)})
            fold_models.append(models)
            drawn = [self._draw(models, [source], y[train], amount, self._seed(2, k, i))
                     for i, (source, amount) in enumerate(names)]
            fit_predict, (E_tr, E_te, *E_drawn) = self._encode(X_tr, X_te, *(d[0] for d in drawn))
            extras = [(e, np.searchsorted(classes, d[1])) for e, d in zip(E_drawn, drawn, strict=True)]
            b, news = refit_candidates(fit_predict, (E_tr, codes[train]), extras, E_te,
                                       reps=self.refits, seed=self._seed(3, k))
            base[:, scored] = b
            scored_rows[scored] = True
            for i, pred in enumerate(news):
                oof[i][:, scored] = pred
        rows = np.flatnonzero(scored_rows)  # every row under cv folds; the holdout under a split
        candidates = [self._candidate([s], a, codes, base, oof[i], rows) for i, (s, a) in enumerate(names)]
        mix = self._mix(candidates, families, splits, fold_models, X, y, classes, codes, base, rows)
        candidates += [mix] if mix is not None else []
        best = max(candidates, key=lambda c: c.delta)
        helpful = [c for c in candidates if c.low > 0]
        if not helpful:
            return self._unchanged(started, f"no candidate raised held-out macro-F1 beyond its "
                                   f"noise (best: {best.name}, change {best.delta:+.4f}, lower "
                                   f"{self.confidence:.0%} bound {best.low:+.4f})", candidates,
                                   len(splits), best.name)
        chosen = max(helpful, key=lambda c: (c.delta, c.low))
        return AugmenterReport(
            chosen=chosen.name, counts={}, candidates=candidates, folds=len(splits), refits=self.refits,
            confidence=self.confidence, selection_s=round(time.perf_counter() - started, 2),
            amount=chosen.amount, best=best.name,
            reason=f"held-out macro-F1 {chosen.base:.4f} -> {chosen.new:.4f} (change "
                   f"{chosen.delta:+.4f}, lower {self.confidence:.0%} bound {chosen.low:+.4f}), "
                   f"the largest gain beyond noise of {len(candidates)} candidates")

    def _rows(self, X: Any, index: np.ndarray) -> Any:
        return X.iloc[index].reset_index(drop=True) if isinstance(X, pd.DataFrame) else X[index]

    def _draw(self, models: dict, families: list[str], y: np.ndarray, amount: Any, seed: int):
        """(X, y) new rows of `amount` for training labels y, from `families`' models."""
        return self._sample(models, families, self._counts(y, amount), seed)

    def _candidate(self, families: list[str], amount: Any, codes: np.ndarray, base: np.ndarray,
                   new: np.ndarray, rows: np.ndarray) -> Candidate:
        """Compare `new` with `base` predictions [refits, N] on the scored `rows`."""
        change = paired_macro_f1(codes[rows], base[:, rows], new[:, rows], confidence=self.confidence,
                                 seed=self._seed(4))
        source = "+".join(families) if len(families) > 1 else families[0]
        return Candidate(f"{source}, {_amount_name(amount)}", families, amount, change.base,
                         change.new, change.delta, change.low, change.high)

    def _mix(self, candidates: list[Candidate], families: list[str], splits: list, fold_models: list,
             X: Any, y: np.ndarray, classes: np.ndarray, codes: np.ndarray, base: np.ndarray,
             rows: np.ndarray) -> Candidate | None:
        """The families that raised macro-F1 at the best single candidate's amount, their
        rows shared out evenly; None when fewer than two did."""
        best = max(candidates, key=lambda c: c.delta)
        gaining = [c.families[0] for c in candidates if c.amount == best.amount and c.delta > 0]
        if len(families) < 2 or len(gaining) < 2:
            return None
        new = np.zeros_like(base)
        for k, (train, scored) in enumerate(splits):
            X_s, y_s = self._draw(fold_models[k], gaining, y[train], best.amount, self._seed(7, k))
            fit_predict, (E_tr, E_te, E_s) = self._encode(self._rows(X, train), self._rows(X, scored), X_s)
            _, (pred,) = refit_candidates(fit_predict, (E_tr, codes[train]),
                                          [(E_s, np.searchsorted(classes, y_s))], E_te,
                                          reps=self.refits, seed=self._seed(3, k))
            new[:, scored] = pred
        return self._candidate(gaining, best.amount, codes, base, new, rows)

    def _unchanged(self, started: float, reason: str, candidates: list[Candidate], folds: int = 0,
                   best: str = "") -> AugmenterReport:
        """Do no harm: the report of "real rows only" and why (`best`: the closest candidate)."""
        return AugmenterReport(REAL_ONLY, reason, {}, candidates, folds, self.refits,
                               self.confidence, round(time.perf_counter() - started, 2), best=best)


def select_amount(model: Any, real: tuple[Any, Any], holdout: tuple[Any, Any], seed: int = 0,
                  refits: int = 3, confidence: float = CONFIDENCE, classifier: Any = None
                  ) -> AugmenterReport:
    """How many rows a fitted generator should add: the Augmenter's selection over
    `sampling.SEARCH_AMOUNTS` with one split, `real` (the rows `model` was fitted on)
    fitted and `holdout` (real rows it never saw) scored. The pipeline's `sample.policy:
    auto` and `augment sample --auto` call it, so they choose as `Augmenter(generator=model,
    sampling_strategy="search", cv=[(real rows, holdout rows)])` does.

    Args:
        model: a fitted generator.
        real: (X, y) of the training rows: a DataFrame and labels [N], or images [N, ...].
        holdout: (X, y) of real held-out rows, the same form.
    Returns:
        the report: `amount` is the chosen amount (None: real rows only, `best` the
        candidate that came closest) and `counts` its rows per class for `real`'s classes.
    """
    (X_real, y_real), (X_hold, y_hold) = real, holdout
    if isinstance(X_real, pd.DataFrame) != isinstance(X_hold, pd.DataFrame):
        raise DataError("the real rows and the holdout must both be tables or both be images")
    if isinstance(X_real, pd.DataFrame):
        X = pd.concat([X_real, X_hold[X_real.columns]], ignore_index=True)
    else:
        X = np.concatenate([np.asarray(X_real), np.asarray(X_hold)])
    y = np.concatenate([np.asarray(y_real), np.asarray(y_hold)])
    n = len(y_real)
    split = [(np.arange(n), np.arange(n, len(y)))]
    aug = Augmenter(generator=model, sampling_strategy="search", seed=seed, classifier=classifier,
                    cv=split, refits=refits, confidence=confidence)
    X, y = aug._check(X, y)
    report = aug._select(X, y, time.perf_counter())
    if report.helps:  # the rows to add to the training rows, not to training + holdout
        report.counts = aug._counts(np.asarray(y_real), report.amount)
    return report
