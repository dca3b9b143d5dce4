"""Metrics that measure a synthetic set against real data.

Every function is pure and deterministic (explicit seeds) and returns plain floats or
dicts of floats, so results serialise straight to JSON. Tables are pandas DataFrames
with the same columns (numeric, datetime, bool, "str"/object/category, NaNs allowed);
images are numpy arrays [N, H, W] or [N, C, H, W] of any numeric dtype; labels are 1-D
arrays of strings or ints. Metrics whose cost grows quadratically with the number of
rows subsample to `max_rows` rows with a seeded generator.

Families:
- fidelity of tables: `column_ks`, `column_tv`, `correlation_distance`;
- fidelity of images: `image_features` -> `frechet_distance`, `prdc`;
- detection: `detection_auc` (can a classifier tell real from synthetic?);
- privacy: `distance_to_closest_record`, `privacy` (memorisation, copies, collapse);
- utility: `utility` (train on synthetic / real / both, score on real validation rows).

Tables are compared in one shared numeric space built by `encode_tables` from the
real (reference) table, so every distance means the same thing for real and synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from scipy import linalg, stats
from scipy.spatial.distance import cdist
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier

from augment.cache import array_key, load_array, save_array
from augment.validate.compare import (
    CLASSIFIER_THREADS,
    CONFIDENCE,
    REPS,
    paired_macro_f1,
    refit_predictions,
)

Data = pd.DataFrame | np.ndarray


# ---- shared helpers ---------------------------------------------------------------------
def _subsample(n: int, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most `max_rows` of `n` rows, drawn without replacement."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


def _take(X: Data, idx: np.ndarray) -> Data:
    return X.iloc[idx] if isinstance(X, pd.DataFrame) else X[idx]


def _is_numeric(series: pd.Series) -> bool:
    """Numeric columns get KS / robust scaling; bools count as categories."""
    if pd.api.types.is_bool_dtype(series):
        return False
    return (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series)
            or pd.api.types.is_timedelta64_dtype(series))


def _as_float(series: pd.Series) -> np.ndarray:
    """Column -> float64 [N] with NaN for missing; datetimes become seconds since 1970."""
    if pd.api.types.is_datetime64_any_dtype(series):
        seconds = (pd.to_datetime(series, utc=True) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_timedelta64_dtype(series):
        return (series / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    values = pd.to_numeric(series, errors="coerce")  # a synthetic column may come back as object
    values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)  # +-inf counts as missing


def _flat_images(X: np.ndarray) -> np.ndarray:
    """Images [N, H, W] or [N, C, H, W] -> float64 [N, H*W*C]."""
    if X.ndim not in (3, 4):
        raise ValueError(f"images must be [N, H, W] or [N, C, H, W], got shape {X.shape}")
    return X.reshape(len(X), -1).astype(np.float64)


def _check_same_kind(*data: Data) -> bool:
    """True for tables, False for images; raises when the inputs mix the two."""
    tables = [isinstance(d, pd.DataFrame) for d in data]
    if all(tables):
        return True
    if not any(tables) and all(isinstance(d, np.ndarray) for d in data):
        return False
    raise TypeError("inputs must be all DataFrames (tables) or all numpy arrays (images)")


# ---- shared encoding --------------------------------------------------------------------
def encode_tables(reference: pd.DataFrame, *others: pd.DataFrame,
                  max_categories: int = 100) -> list[np.ndarray]:
    """Encode `reference` and `others` into one float64 space: [enc(reference), enc(o1), ...].

    Numeric columns: (x - median) / IQR of the reference (IQR 0 -> range, range 0 -> 1), so
    heavy tails do not squash the bulk yet out-of-range synthetic values stay visible.
    Missing numeric values become 0 (the median) plus a 0/1 missing-indicator column.
    Categorical columns: one-hot over the reference's `max_categories` most frequent
    categories; unseen (or rarer) categories are all zeros. A missing-indicator column is
    added to a column whenever any of the given tables has a missing value in it, so all
    outputs share the same width D.
    """
    frames = (reference, *others)
    for frame in others:
        absent = [c for c in reference.columns if c not in frame.columns]
        if absent:
            raise ValueError(f"columns {absent} of the reference are missing from a compared table")
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for col in reference.columns:
        series = [frame[col] for frame in frames]
        if _is_numeric(reference[col]):
            values = [_as_float(s) for s in series]
            ref = values[0][~np.isnan(values[0])]
            center, scale = 0.0, 1.0
            if len(ref):
                q1, center, q3 = np.percentile(ref, [25, 50, 75])
                scale = (q3 - q1) or (ref.max() - ref.min()) or 1.0
            missing = [np.isnan(v) for v in values]
            for out, v, m in zip(blocks, values, missing, strict=True):
                out.append(np.where(m, 0.0, (v - center) / scale)[:, None])
        else:
            codes, uniques = pd.factorize(reference[col].astype(object))  # NaN -> -1
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            keep = pd.Index(uniques[np.argsort(-counts, kind="stable")[:max_categories]], dtype=object)
            missing = [s.isna().to_numpy() for s in series]
            for out, s in zip(blocks, series, strict=True):
                index = keep.get_indexer(s.astype(object))  # unseen / NaN -> -1
                onehot = np.zeros((len(s), len(keep)))
                seen = index >= 0
                onehot[np.flatnonzero(seen), index[seen]] = 1.0
                out.append(onehot)
        if any(m.any() for m in missing):
            for out, m in zip(blocks, missing, strict=True):
                out.append(m.astype(np.float64)[:, None])
    return [np.hstack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames, strict=True)]


# ---- fidelity: tables -------------------------------------------------------------------
def column_ks(real: pd.DataFrame, syn: pd.DataFrame) -> dict[str, float]:
    """Two-sample Kolmogorov-Smirnov statistic per numeric column (NaNs dropped).

    0 = identical marginal distributions, 1 = non-overlapping ranges. A column empty on one
    side only scores 1, empty on both sides 0.
    """
    out: dict[str, float] = {}
    for col in real.columns:
        if not _is_numeric(real[col]):
            continue
        a, b = _as_float(real[col]), _as_float(syn[col])
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) == 0 or len(b) == 0:
            out[str(col)] = float(len(a) != len(b))
        else:
            out[str(col)] = float(stats.ks_2samp(a, b).statistic)
    return out


def column_tv(real: pd.DataFrame, syn: pd.DataFrame) -> dict[str, float]:
    """Total variation distance of category frequencies per categorical column (missing is a category).

    0 = identical frequencies, 1 = no category in common.
    """
    out: dict[str, float] = {}
    for col in real.columns:
        if _is_numeric(real[col]):
            continue
        both = pd.concat([real[col].astype(object), syn[col].astype(object)], ignore_index=True)
        codes, uniques = pd.factorize(both, use_na_sentinel=False)  # NaN gets its own code
        p = np.bincount(codes[: len(real)], minlength=len(uniques)) / max(len(real), 1)
        q = np.bincount(codes[len(real):], minlength=len(uniques)) / max(len(syn), 1)
        out[str(col)] = float(0.5 * np.abs(p - q).sum())
    return out


def _correlation(X: np.ndarray) -> np.ndarray:
    """Pearson correlation [D, D] of X [N, D]; a constant column correlates 0 with the rest."""
    std = X.std(axis=0)
    z = np.divide(X - X.mean(axis=0), std, out=np.zeros_like(X), where=std > 0)
    corr = z.T @ z / max(len(X), 1)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_distance(real: pd.DataFrame, syn: pd.DataFrame) -> float:
    """Mean |corr_real - corr_syn| over pairs of encoded features (one-hots and missing flags included).

    0 = same pairwise (linear) dependence structure; at most 2.
    """
    enc_real, enc_syn = encode_tables(real, syn)
    d = enc_real.shape[1]
    if d < 2:
        return 0.0
    upper = np.triu_indices(d, k=1)
    return float(np.abs(_correlation(enc_real) - _correlation(enc_syn))[upper].mean())


# ---- fidelity: images -------------------------------------------------------------------
@dataclass(frozen=True)
class ImageFeatures:
    """Hidden-layer activations of a small MLP classifier: images [N, ...] -> features [N, hidden]."""

    low: float
    high: float
    weights: np.ndarray = field(repr=False)  # [pixels, hidden]
    bias: np.ndarray = field(repr=False)  # [hidden]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        pixels = (_flat_images(X) - self.low) / (self.high - self.low)
        return np.maximum(pixels @ self.weights + self.bias, 0.0)  # ReLU, as in the trained net


def image_features(X_train: np.ndarray, y_train: np.ndarray, hidden: int = 64, seed: int = 0,
                   max_rows: int = 10_000) -> ImageFeatures:
    """Fit a one-hidden-layer MLP on real labelled images and return its feature map.

    Why a classifier and not PCA: like Inception features in FID, features trained to tell
    the real classes apart weigh class-relevant structure (strokes, shapes) instead of raw
    pixel variance, and they need no pretrained network. Pixels are scaled to [0, 1] by the
    training set's global min/max.
    """
    rng = np.random.default_rng(seed)
    idx = _subsample(len(X_train), max_rows, rng)
    flat = _flat_images(X_train[idx])
    low, high = float(flat.min()), float(flat.max())
    high = high if high > low else low + 1.0
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=200, early_stopping=True,
                        random_state=seed)
    clf.fit((flat - low) / (high - low), np.asarray(y_train)[idx].astype(str))
    return ImageFeatures(low, high, clf.coefs_[0].copy(), clf.intercepts_[0].copy())


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix [K, K]."""
    values, vectors = linalg.eigh(cov)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(feat_real: np.ndarray, feat_syn: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets [N, K] and [M, K].

    |mu_r - mu_s|^2 + Tr(S_r + S_s - 2 (S_r S_s)^(1/2)) (Heusel et al. 2017,
    https://arxiv.org/abs/1706.08500); 0 = same mean and covariance, larger is worse.
    """
    mu_r, mu_s = feat_real.mean(axis=0), feat_syn.mean(axis=0)
    cov_r = np.atleast_2d(np.cov(feat_real, rowvar=False))
    cov_s = np.atleast_2d(np.cov(feat_syn, rowvar=False))
    # Tr (S_r S_s)^(1/2) = Tr (S_r^(1/2) S_s S_r^(1/2))^(1/2), a symmetric PSD matrix, so its
    # eigenvalues give the trace exactly. scipy.linalg.sqrtm(S_r @ S_s) warns and loses
    # accuracy on singular covariances, which dead ReLU units or constant pixels produce.
    root_r = _psd_sqrt(cov_r)
    trace_covmean = np.sqrt(np.clip(linalg.eigvalsh(root_r @ cov_s @ root_r), 0.0, None)).sum()
    value = np.sum((mu_r - mu_s) ** 2) + np.trace(cov_r) + np.trace(cov_s) - 2 * trace_covmean
    return float(max(value, 0.0))


def _chunked_distances(A: np.ndarray, B: np.ndarray, chunk: int = 1000):
    """Yield (start, stop, exact Euclidean distances [stop - start, len(B)]) over row chunks of A.

    scipy's cdist sums squared differences directly, so a row and its exact copy are at
    distance 0 and ties on a k-NN ball's edge compare exactly; sklearn's faster
    |a|^2 + |b|^2 - 2ab form is off by ~1e-8 and would drop points sitting on the edge.
    """
    for start in range(0, len(A), chunk):
        stop = min(start + chunk, len(A))
        yield start, stop, cdist(A[start:stop], B)


def _kth_neighbour_radius(X: np.ndarray, k: int) -> np.ndarray:
    """Distance [N] from each row of X to its k-th nearest other row (index 0 is the row itself)."""
    radius = np.empty(len(X))
    for start, stop, dist in _chunked_distances(X, X):
        radius[start:stop] = np.partition(dist, k, axis=1)[:, k]
    return radius


def prdc(feat_real: np.ndarray, feat_syn: np.ndarray, k: int = 5, max_rows: int = 5000,
         seed: int = 0) -> dict[str, float]:
    """Precision, recall, density and coverage of synthetic features [M, K] against real [N, K].

    Naeem et al. 2020 (https://arxiv.org/abs/2002.09797), k-NN balls around each sample:
    precision = share of synthetic rows inside some real ball (realism), recall = share of
    real rows inside some synthetic ball (diversity), density = mean number of real balls
    holding a synthetic row / k (about 1 for a fresh sample of the real distribution,
    (k+1)/k for an exact copy), coverage = share of real balls holding a synthetic row.
    1 is good for all four; disjoint far-apart sets give 0.
    """
    rng = np.random.default_rng(seed)
    real = feat_real[_subsample(len(feat_real), max_rows, rng)].astype(np.float64)
    syn = feat_syn[_subsample(len(feat_syn), max_rows, rng)].astype(np.float64)
    if min(len(real), len(syn)) <= k:
        raise ValueError(f"prdc needs more than k={k} rows in each set")
    radius_real, radius_syn = _kth_neighbour_radius(real, k), _kth_neighbour_radius(syn, k)
    in_real_ball = np.zeros(len(syn), dtype=bool)  # syn row j lies in some real ball
    balls_holding = np.zeros(len(syn))  # number of real balls holding syn row j
    in_syn_ball = np.zeros(len(real), dtype=bool)  # real row i lies in some syn ball
    covered = np.zeros(len(real), dtype=bool)  # nearest syn row is inside real ball i
    for start, stop, dist in _chunked_distances(real, syn):  # dist [chunk, M]
        inside = dist <= radius_real[start:stop, None]
        in_real_ball |= inside.any(axis=0)
        balls_holding += inside.sum(axis=0)
        in_syn_ball[start:stop] = (dist <= radius_syn[None, :]).any(axis=1)
        covered[start:stop] = dist.min(axis=1) < radius_real[start:stop]
    return {
        "precision": float(in_real_ball.mean()),
        "recall": float(in_syn_ball.mean()),
        "density": float(balls_holding.mean() / k),
        "coverage": float(covered.mean()),
    }


# ---- detection --------------------------------------------------------------------------
def detection_auc(real: Data, syn: Data, seed: int = 0, folds: int = 3, max_rows: int = 5000) -> float:
    """Cross-validated ROC AUC of a classifier telling real rows from synthetic ones.

    A balanced subsample of min(len(real), len(syn), max_rows) rows per side; gradient-boosted
    trees on encoded features (tables) or flattened pixels (images). 0.5 = indistinguishable
    (good), 1.0 = trivially separable. The gate asks it only of 10 or more synthetic rows.
    """
    is_table = _check_same_kind(real, syn)
    rng = np.random.default_rng(seed)
    n = min(len(real), len(syn), max_rows)
    real_s = _take(real, _subsample(len(real), n, rng))
    syn_s = _take(syn, _subsample(len(syn), n, rng))
    if is_table:
        enc_real, enc_syn = encode_tables(real_s, syn_s)
    else:
        enc_real, enc_syn = _flat_images(real_s), _flat_images(syn_s)
    X = np.vstack([enc_real, enc_syn])
    y = np.r_[np.zeros(n), np.ones(n)]
    # Early stopping on a seeded 10% split: stops in ~20 rounds when nothing separates the
    # sets (5-10x faster on 784-pixel images) and keeps trees from chasing noise.
    clf = HistGradientBoostingClassifier(max_iter=100, early_stopping=True, random_state=seed)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, X, y, cv=cv, scoring="roc_auc").mean())


# ---- privacy ----------------------------------------------------------------------------
def _shared_space(train: Data, *others: Data) -> list[np.ndarray]:
    """Tables via `encode_tables`; images flattened and scaled to [0, 1] by train's range."""
    if _check_same_kind(train, *others):
        return encode_tables(train, *others)
    flat = [_flat_images(x) for x in (train, *others)]
    low, high = flat[0].min(), flat[0].max()
    scale = high - low if high > low else 1.0
    return [(f - low) / scale for f in flat]


def _closest(enc_train: np.ndarray, nn: NearestNeighbors, enc_other: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(index [M], exact distance [M]) of each row of enc_other's nearest row of enc_train.

    The neighbour is found by sklearn, then its distance is recomputed from differences so an
    exact copy scores 0.0, not ~1e-8.
    """
    if len(enc_other) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    index = nn.kneighbors(enc_other, return_distance=False)[:, 0]
    return index, np.sqrt(((enc_other - enc_train[index]) ** 2).sum(axis=1))


def _closest_distance(enc_train: np.ndarray, nn: NearestNeighbors, enc_other: np.ndarray) -> np.ndarray:
    """Exact distance [M] from each row of enc_other to its nearest row of enc_train."""
    return _closest(enc_train, nn, enc_other)[1]


def closest_records(train: Data, other: Data) -> tuple[np.ndarray, np.ndarray]:
    """(index [M] into `train`, Euclidean distance [M]) of each row of `other`'s nearest
    row of `train`, in the shared encoded space (see `encode_tables`); 0 = an exact copy."""
    enc_train, enc_other = _shared_space(train, other)
    return _closest(enc_train, NearestNeighbors(n_neighbors=1).fit(enc_train), enc_other)


def distance_to_closest_record(train: Data, other: Data) -> np.ndarray:
    """Euclidean distance [M] from each row of `other` to its nearest row of `train`."""
    return closest_records(train, other)[1]


def _row_keys(X: Data) -> list:
    """One hashable key per row, equal exactly when rows are equal (NaN == NaN, 1 == 1.0)."""
    if not isinstance(X, pd.DataFrame):
        flat = _flat_images(X) + 0.0  # + 0.0 turns -0.0 into 0.0
        return [row.tobytes() for row in flat]
    columns = []
    for col in X.columns:
        if _is_numeric(X[col]):
            values = _as_float(X[col]) + 0.0
            columns.append([None if np.isnan(v) else v for v in values.tolist()])
        else:
            columns.append([None if pd.isna(v) else v for v in X[col].astype(object).tolist()])
    return list(zip(*columns, strict=True)) if columns else [()] * len(X)


def _duplicate_share(keys: list) -> float:
    """Share of rows that repeat an earlier row: 1 - unique / N (0 = all distinct)."""
    return 1.0 - len(set(keys)) / len(keys) if keys else 0.0


def privacy(train: Data, syn: Data, holdout: Data, max_rows: int = 5000, seed: int = 0) -> dict[str, float]:
    """Memorisation, copying and collapse of `syn` relative to the generator's `train` rows.

    - dcr_syn_median / dcr_holdout_median: median distance to the closest training row of
      synthetic rows / of real rows the generator never saw (up to `max_rows` each);
    - dcr_ratio = syn / holdout median: about 1 or above is good; < 1 means synthetic rows sit
      closer to training rows than genuinely new real rows do (memorisation). 1.0 when both
      medians are 0, inf when only the holdout's is;
    - exact_copy_share: share of synthetic rows identical to some training row (0 is good);
    - duplicate_share: share of synthetic rows repeating another synthetic row (collapse),
      to compare with holdout_duplicate_share, the same share within real holdout rows.
    """
    _check_same_kind(train, syn, holdout)
    if min(len(train), len(syn), len(holdout)) == 0:
        raise ValueError("privacy needs at least one row in train, syn and holdout")
    rng = np.random.default_rng(seed)
    syn_s = _take(syn, _subsample(len(syn), max_rows, rng))
    hold_s = _take(holdout, _subsample(len(holdout), max_rows, rng))
    # The full train set is kept: a subsampled one would inflate every distance.
    enc_train, enc_syn, enc_hold = _shared_space(train, syn_s, hold_s)
    nn = NearestNeighbors(n_neighbors=1).fit(enc_train)
    dcr_syn = float(np.median(_closest_distance(enc_train, nn, enc_syn)))
    dcr_hold = float(np.median(_closest_distance(enc_train, nn, enc_hold)))
    ratio = dcr_syn / dcr_hold if dcr_hold > 0 else (1.0 if dcr_syn == 0 else float("inf"))
    train_keys = set(_row_keys(train))
    syn_keys = _row_keys(syn)
    copies = sum(key in train_keys for key in syn_keys) / len(syn_keys) if syn_keys else 0.0
    return {
        "dcr_syn_median": dcr_syn,
        "dcr_holdout_median": dcr_hold,
        "dcr_ratio": float(ratio),
        "exact_copy_share": float(copies),
        "duplicate_share": float(_duplicate_share(syn_keys)),
        "holdout_duplicate_share": float(_duplicate_share(_row_keys(holdout))),
    }


# ---- utility ----------------------------------------------------------------------------
def _labels(*ys: np.ndarray) -> list[np.ndarray]:
    """Labels as one comparable dtype: numbers stay numbers, anything else becomes str."""
    arrays = [np.asarray(y) for y in ys]
    if all(a.dtype.kind in "biuf" for a in arrays):
        return arrays
    return [a.astype(str) for a in arrays]


def _fit_predict(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, is_table: bool, seed: int) -> np.ndarray:
    """Train the utility classifier on (X, y) and predict X_val; one class -> that class."""
    from augment.classifiers import utility_classifier

    classes = np.unique(y)
    if len(classes) == 1:
        return np.full(len(X_val), classes[0])
    return utility_classifier(is_table, seed).fit(X, y).predict(X_val)


def _encoded(reference_X: Data, *others: Data) -> tuple[bool, list[np.ndarray]]:
    """(is_table, [reference, *others] as numbers): tables encoded in `reference_X`'s space
    (the real training table), images as flattened pixels."""
    if _check_same_kind(reference_X, *others):
        return True, encode_tables(reference_X, *others)
    return False, [_flat_images(x) for x in (reference_X, *others)]


def _macro_f1(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
              is_table: bool, seed: int) -> float:
    """Macro-F1 over the classes of y_test of the utility classifier trained on (X, y)."""
    if len(X) == 0:
        return 0.0
    pred = _fit_predict(X, y, X_test, is_table, seed)
    return float(f1_score(y_test, pred, labels=np.unique(y_test), average="macro", zero_division=0))


def tstr(reference_X: Data, train_X: Data, train_y: np.ndarray, test_X: Data, test_y: np.ndarray,
         seed: int = 0) -> float:
    """TSTR macro-F1 (0..1, higher is better): the utility classifier trained on
    (train_X, train_y) alone, scored on real (test_X, test_y).

    Train on synthetic rows to test them; on real training rows for the real-data
    figure to compare with. Tables are encoded in the space of `reference_X` (the real
    training table). F1 averages over the classes in test_y.
    """
    is_table, (_, enc_train, enc_test) = _encoded(reference_X, train_X, test_X)
    y_train, y_test = _labels(train_y, test_y)
    return _macro_f1(enc_train, y_train, enc_test, y_test, is_table, seed)


def _baseline_key(is_table: bool, enc_train: np.ndarray, y_train: np.ndarray,
                  enc_val: np.ndarray, reps: int, seed: int) -> str:
    """The cache key of the real-only refits' predictions: every input they depend on."""
    from augment.classifiers import utility_classifier

    params = sorted(utility_classifier(is_table, seed).get_params().items())
    return array_key("utility-baseline-1", repr(params), sklearn.__version__, np.__version__,
                     CLASSIFIER_THREADS, reps, seed, enc_train, y_train, enc_val)


def utility(train_X: Data, train_y: np.ndarray, syn_X: Data, syn_y: np.ndarray, val_X: Data,
            val_y: np.ndarray, seed: int = 0, confidence: float = CONFIDENCE, reps: int = REPS,
            cache: str | Path | None = None) -> dict[str, Any]:
    """Macro-F1 on real validation rows of classifiers trained on synthetic, real and both.

    tstr_macro_f1 (train on synthetic only, as `tstr`; None unless the synthetic set has
    every validation class) close to real_macro_f1 (train on real) is good;
    augmented_delta = augmented_macro_f1 (real + synthetic) - real_macro_f1 > 0 means the
    synthetic rows help. Both are means over `reps` refits on bootstrapped training
    rows, and augmented_delta_low / _high are the one-sided bounds of the change at
    `confidence` (a paired bootstrap over the refits and the validation rows,
    compare.py): the change is beyond noise when a bound excludes 0. The classifier is
    `classifiers.utility_classifier` (tables: HistGradientBoosting on encoded features;
    images: the forest on flattened pixels). F1 averages over the classes in val_y.
    `cache`: a folder that keeps the real-only refits' predictions (augment/cache.py), so
    the next call with the same real rows, validation rows and seeds skips those refits.
    """
    is_table, (enc_train, enc_syn, enc_val) = _encoded(train_X, syn_X, val_X)
    y_train, y_syn, y_val = _labels(train_y, syn_y, val_y)
    classes = np.unique(y_val)

    def fit_predict(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, seed: int) -> np.ndarray:
        return _fit_predict(X, y, X_val, is_table, seed)

    # The key hashes every input of the real-only refits (shapes and dtypes included), so
    # an entry that loads is exactly their predictions [max(reps, 1), len(y_val)].
    key = _baseline_key(is_table, enc_train, y_train, enc_val, reps, seed) if cache else None
    base = load_array(cache, key) if key else None
    real_pred, augmented_pred = refit_predictions(fit_predict, (enc_train, y_train), (enc_syn, y_syn),
                                                  enc_val, reps=reps, seed=seed, base=base)
    if key and base is None:
        save_array(cache, key, real_pred)
    change = paired_macro_f1(y_val, real_pred, augmented_pred, confidence=confidence, seed=seed)
    covered = int(np.isin(classes, y_syn).sum())
    return {
        # None when the synthetic set lacks some classes (a balance request adds no rows
        # to the largest class): a classifier cannot learn a class it never sees.
        "tstr_macro_f1": (_macro_f1(enc_syn, y_syn, enc_val, y_val, is_table, seed)
                          if covered == len(classes) else None),
        "tstr_classes_covered": f"{covered}/{len(classes)}",
        "real_macro_f1": change.base,
        "augmented_macro_f1": change.new,
        "augmented_delta": change.delta,
        "augmented_delta_low": change.low,
        "augmented_delta_high": change.high,
        "augmented_delta_sd": change.sd,
        "confidence": confidence,
        "validation_rows": change.rows,
        "refits": change.reps,
    }
