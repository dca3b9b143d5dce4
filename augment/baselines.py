"""The augmentations every generator must beat: SMOTE (imbalanced-learn) and classic
image transforms (small shifts and rotations).

Both take `counts`, the new rows per class to add, exactly as a generator's `sample`
does, so they are compared at the same mix ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def smote(X: pd.DataFrame | np.ndarray, y: np.ndarray, counts: Mapping[Any, int], seed: int = 0
          ) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """New rows by SMOTE (numeric), SMOTENC (mixed) or SMOTEN (categorical only).

    Missing values are filled first (median / a "missing" level) since SMOTE cannot
    interpolate them. Classes with fewer than 2 rows get no new rows.

    Returns:
        only the new rows (X_new, y_new), in the input's type and columns.
    """
    from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

    y = np.asarray(y)
    present = {c: int((y == c).sum()) for c in np.unique(y)}
    target = {c: present[c] + int(n) for c, n in counts.items() if n > 0 and present.get(c, 0) >= 2}
    if not target:
        return (X.iloc[:0] if isinstance(X, pd.DataFrame) else X[:0]), y[:0]
    k = max(1, min(5, min(present[c] for c in target) - 1))
    if isinstance(X, np.ndarray):
        flat = X.reshape(len(X), -1).astype(np.float64)
        sampler = SMOTE(sampling_strategy=target, k_neighbors=k, random_state=seed)
        X_res, y_res = sampler.fit_resample(flat, y)
        new = X_res[len(flat):]
        rounded = np.round(new) if np.issubdtype(X.dtype, np.integer) else new
        return rounded.reshape(-1, *X.shape[1:]).astype(X.dtype), y_res[len(flat):]
    frame, categorical = _fill(X)
    if len(categorical) == frame.shape[1]:
        sampler = SMOTEN(sampling_strategy=target, k_neighbors=k, random_state=seed)
    elif categorical:
        positions = [frame.columns.get_loc(c) for c in categorical]
        sampler = SMOTENC(positions, sampling_strategy=target, k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTE(sampling_strategy=target, k_neighbors=k, random_state=seed)
    X_res, y_res = sampler.fit_resample(frame, y)
    new = pd.DataFrame(X_res).iloc[len(frame):].reset_index(drop=True)
    return _restore(new, X, categorical), np.asarray(y_res)[len(frame):]


def _fill(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    frame, categorical = X.copy(), []
    for column in X.columns:
        series = X[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            frame[column] = series.astype(float).fillna(series.median())
        else:
            categorical.append(column)
            frame[column] = series.astype(object).where(series.notna(), "__missing__").astype(str)
    return frame, categorical


def _restore(new: pd.DataFrame, like: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    out = {}
    for column in like.columns:
        values = new[column]
        if column in categorical:
            values = values.astype(object).where(values != "__missing__", None)
            if pd.api.types.is_bool_dtype(like[column]):
                values = values.map({"True": True, "False": False})
            out[column] = values.astype(like[column].dtype) if not values.isna().any() else values
        else:
            values = values.astype(float)
            if pd.api.types.is_integer_dtype(like[column]):
                values = values.round()
            out[column] = values.astype(like[column].dtype)
    return pd.DataFrame(out)


def classic_images(X: np.ndarray, y: np.ndarray, counts: Mapping[Any, int], seed: int = 0,
                   max_shift: int = 1, max_degrees: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """New images: random real images of the class, shifted up to `max_shift` pixels and
    rotated up to `max_degrees`, clipped to the real value range.

    Returns:
        only the new images [M, ...] (input dtype) and their labels [M].
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    low, high = float(X.min()), float(X.max())
    images, labels = [], []
    for label, n in counts.items():
        pool = np.flatnonzero(y == label)
        if n <= 0 or len(pool) == 0:
            continue
        for index in rng.choice(pool, size=int(n), replace=True):
            image = X[index].astype(np.float64)
            axes = (-2, -1)
            image = ndimage.rotate(image, rng.uniform(-max_degrees, max_degrees), axes=axes,
                                   reshape=False, order=1, mode="constant", cval=low)
            shift = [0.0] * (image.ndim - 2) + list(rng.integers(-max_shift, max_shift + 1, 2))
            image = ndimage.shift(image, shift, order=0, mode="constant", cval=low)
            images.append(np.clip(image, low, high))
            labels.append(label)
    if not images:
        return X[:0], y[:0]
    out = np.stack(images)
    if np.issubdtype(X.dtype, np.integer):
        out = np.round(out)
    return out.astype(X.dtype), np.asarray(labels, dtype=y.dtype)
