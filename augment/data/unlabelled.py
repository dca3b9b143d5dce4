"""Unlabelled rows for pretraining: read from a source, checked against the training split.

A generator can pretrain on rows without labels (its null class) before it fine-tunes on
the labelled training split. Those rows come from the same kinds of source as a dataset
(builtin:NAME, a .csv / .parquet table, an .npz file, an image folder); any labels the
source holds are discarded, and they must have the training split's features: the same
columns (tables) or the same image shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augment.data.schema import infinite_values
from augment.data.sources import (
    IMAGE_SUFFIXES,
    TABLE_SUFFIXES,
    Dataset,
    _load_builtin,
    _load_image_folder,
    _read_table,
    _source_text,
    image_files,
    npz_features,
    read_images,
    read_npz,
)
from augment.errors import DataError

NUMERIC_KINDS = ("continuous", "integer")


def load_unlabelled(source: str | Path, target: str | None = None,
                    drop: list[str] | None = None) -> pd.DataFrame | np.ndarray:
    """Features of `source`, labels discarded.

    Args:
        source: builtin:NAME, a .csv / .parquet table (the column `target` is dropped when
            present), an .npz file (array X; y, if any, is ignored) or an image folder (class
            subfolders, whose names are ignored, or the images themselves).
        target: the dataset's label column.
        drop: the dataset's dropped columns, removed where present.

    Returns:
        a DataFrame [N, F] or images [N, H, W] / [N, C, H, W].
    """
    source = _source_text(source)
    if source.startswith("builtin:"):
        X = _load_builtin(source.removeprefix("builtin:"))[1]
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"no such file or folder: {source}")
        if path.is_dir():
            X = _images(path)
        elif path.suffix.lower() in TABLE_SUFFIXES:
            X = _read_table(path)
            X = X.drop(columns=[target]) if target in X.columns else X
        elif path.suffix.lower() == ".npz":
            X = npz_features(read_npz(path, ("X",))[0])  # a y array, if any, is ignored
        else:
            raise DataError(f"unsupported file type {path.suffix!r} for the unlabelled source "
                            f"{source}; expected one of {', '.join(TABLE_SUFFIXES + ('.npz',))} "
                            "or an image folder")
    if isinstance(X, pd.DataFrame) and drop:
        X = X.drop(columns=[c for c in drop if c in X.columns])
    if len(X) == 0:
        raise DataError(f"the unlabelled source {source} has no rows")
    return X


def check_unlabelled(X: pd.DataFrame | np.ndarray, train: Dataset, where: str = "unlabelled"
                     ) -> pd.DataFrame | np.ndarray:
    """`X` with the training split's features, columns in its order; else a DataError
    naming the column (or the image shape) that differs. `where` names the rows in messages."""
    if train.modality == "image":
        if isinstance(X, pd.DataFrame):
            raise DataError(f"{where}: a table, but the training split holds images "
                            f"{tuple(train.X.shape[1:])}")
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"{where}: image pixels must be numbers, got dtype {X.dtype}")
        if X.shape[1:] != train.X.shape[1:]:
            raise DataError(f"{where}: images of shape {tuple(X.shape[1:])}, but the training "
                            f"split's are {tuple(train.X.shape[1:])}")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise DataError(f"{where}: some pixels are NaN or infinite; clean them")
        return X
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"{where}: images of shape {tuple(np.shape(X)[1:])}, but the training "
                        "split is a table")
    columns = [str(c) for c in X.columns]
    expected = list(train.X.columns)
    missing = [c for c in expected if c not in columns]
    if missing:
        raise DataError(f"{where} lacks the column {missing[0]!r} of the training split"
                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    extra = [c for c in columns if c not in expected]
    if extra:
        raise DataError(f"{where} has the column {extra[0]!r}, which the training split lacks"
                        + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else "")
                        + "; drop it (datasets.<ds>.drop applies to both)")
    X = X[expected].reset_index(drop=True)
    for spec in train.schema.columns if train.schema else []:
        series = X[spec.name]
        if spec.kind not in NUMERIC_KINDS:
            continue
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise DataError(f"{where}: column {spec.name!r} holds {series.dtype} values, but it is "
                            f"{spec.kind} in the training split")
        infinite = int(np.isinf(series.dropna().to_numpy(dtype=float)).sum())
        if infinite:
            raise infinite_values(spec.name, infinite, len(series))
    return X


def _images(path: Path) -> np.ndarray:
    """Images of a folder: in class subfolders (their names ignored) or directly in it."""
    if any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir()):
        return _load_image_folder(path)[1]
    files = image_files(path)
    if not files:
        raise DataError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)}) and no "
                        "subfolders of images")
    return read_images(path, [("", files)])[0]
