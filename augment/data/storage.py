"""Reading and writing dataset splits on disk.

Tables are parquet files holding the features and the target column (dtypes kept);
images are NPZ files with arrays X [N, ...] and y [N] (labels as int or unicode,
never pickled objects). The schema of a prepared table sits beside it as schema.json.
The optional unlabelled split holds features only (no target column, no y array).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from augment.data.schema import TableSchema, infer_schema
from augment.data.sources import Dataset, make_dataset, read_npz
from augment.errors import DataError
from augment.workspace import SCHEMA_FILE, UNLABELLED


def split_filename(ds: Dataset, split: str) -> str:
    return f"{split}.parquet" if ds.modality == "table" else f"{split}.npz"


def write_labelled(path: Path, X: pd.DataFrame | np.ndarray, y: np.ndarray, target: str | None
                   ) -> None:
    """Write features and labels to `path` by its suffix: .parquet / .csv (table with a
    `target` column) or .npz (arrays X and y; string labels stored as unicode)."""
    path = Path(path)
    if isinstance(X, pd.DataFrame):
        frame = X.copy()
        frame[target or "label"] = y
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return
    labels = y.astype(str) if y.dtype == object else y
    with open(path, "wb") as handle:
        np.savez_compressed(handle, X=X, y=labels)


def unlabelled_filename(ds: Dataset) -> str:
    return split_filename(ds, UNLABELLED)


def write_unlabelled(path: Path, X: pd.DataFrame | np.ndarray) -> None:
    """Write features without labels: .parquet (the columns only) or .npz (array X)."""
    path = Path(path)
    if isinstance(X, pd.DataFrame):
        X.to_parquet(path, index=False)
        return
    with open(path, "wb") as handle:
        np.savez_compressed(handle, X=X)


def read_unlabelled(path: str | Path) -> pd.DataFrame | np.ndarray:
    """Read a file written by `write_unlabelled`: a DataFrame [N, F] or images [N, ...]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such split file: {path}")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return read_npz(path, ("X",))[0]
    except DataError:
        raise
    except Exception as err:  # pyarrow / numpy raise many types for unreadable files
        raise DataError(f"cannot read the unlabelled split {path}: {err}") from err


def write_split(ds: Dataset, path: Path) -> None:
    """Write one split to `path` (.parquet for tables, .npz for images)."""
    write_labelled(path, ds.X, ds.y, ds.target)


def read_split(path: str | Path, name: str | None = None, schema: TableSchema | None = None
               ) -> Dataset:
    """Read a split written by `write_split` or `write_labelled`.

    A table's schema is `schema` when given (e.g. the training split's, for synthetic rows:
    nothing is inferred from generated rows, which may leave a sparse column empty), else
    the schema.json beside the file, else inferred.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such split file: {path}")
    schema_file = path.parent / SCHEMA_FILE
    if path.suffix == ".parquet":
        if schema is None and schema_file.is_file():
            schema = TableSchema.load(schema_file)
        try:
            frame = pd.read_parquet(path)
        except Exception as err:
            raise DataError(f"cannot read {path}: {err}") from err
        if len(frame.columns) < 2:
            raise DataError(f"{path} holds {len(frame.columns)} column(s); a split needs features "
                            "and a target column")
        target = schema.target if schema else frame.columns[-1]
        if target not in frame.columns:
            raise DataError(f"{path} lacks the target column {target!r}")
        y = frame[target].to_numpy()
        X = frame.drop(columns=[target])
        if schema is None:  # a file written without its schema: infer one, leniently
            schema = infer_schema(X, target, check=False)
        return make_dataset(name or path.stem, X, y, target=target, schema=schema)
    if path.suffix == ".npz":
        X, y = read_npz(path)
        return make_dataset(name or path.stem, X, y)
    raise DataError(f"unsupported split file {path} (expected .parquet or .npz)")


def write_samples(folder: Path, X: pd.DataFrame | np.ndarray, y: np.ndarray, target: str | None,
                  counts: dict, filters: dict | None = None,
                  dropped: tuple[pd.DataFrame | np.ndarray, np.ndarray] | None = None) -> Path:
    """Write a sample folder's files into `folder` (the caller makes it atomic): the rows
    (samples.parquet / samples.npz), requested.json ({class: rows asked for}) and, from
    the per-row filters, filters.json and the worst dropped rows (dropped.parquet / .npz).

    Returns the samples file's path.
    """
    from augment.io import write_json
    from augment.workspace import (
        DROPPED_IMAGES,
        DROPPED_TABLE,
        FILTERS_FILE,
        REQUESTED_FILE,
        SAMPLES_IMAGES,
        SAMPLES_TABLE,
    )

    images = isinstance(X, np.ndarray)
    samples = folder / (SAMPLES_IMAGES if images else SAMPLES_TABLE)
    write_labelled(samples, X, y, target)
    files = {REQUESTED_FILE: {str(c): int(n) for c, n in counts.items()}}
    if filters is not None:
        files[FILTERS_FILE] = filters
    for name, payload in files.items():
        write_json(folder / name, payload)
    if dropped is not None:
        write_labelled(folder / (DROPPED_IMAGES if images else DROPPED_TABLE), *dropped, target)
    return samples
