"""Dataset sources: builtin datasets, CSV/parquet tables, NPZ arrays, image folders.

`load_dataset(source, target)` returns a `Dataset`; every unreadable or unusable
source raises `DataError` naming the problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from augment.data.schema import TableSchema, apply_overrides, infer_schema
from augment.errors import DataError

Modality = Literal["table", "image"]
BUILTIN = {
    "digits": "8x8 grey images of handwritten digits, 10 classes, 1797 rows (scikit-learn)",
    "breast_cancer": "30 numeric features, 2 classes, 569 rows (scikit-learn)",
    "iris": "4 numeric features, 3 classes, 150 rows (scikit-learn)",
}
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset.

    Attributes:
        name: short name (builtin name or file stem).
        modality: "table" or "image".
        X: DataFrame [N, F] for tables; ndarray [N, H, W] or [N, C, H, W] for images.
        y: labels [N], original values (strings or integers).
        classes: sorted distinct labels.
        target: name of the label column (tables) or None.
        schema: inferred (and overridden) table schema, None for images.
        fingerprint: sha256 hex of the content (features, labels, target name);
            stable across runs and machines.
    """

    name: str
    modality: Modality
    X: pd.DataFrame | np.ndarray
    y: np.ndarray
    classes: list
    target: str | None
    schema: TableSchema | None
    fingerprint: str

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> dict:
        labels, counts = np.unique(self.y, return_counts=True)
        return {_plain(label): int(c) for label, c in zip(labels, counts, strict=True)}

    def subset(self, index: np.ndarray, name: str | None = None) -> Dataset:
        """The rows at `index` (positions), with schema and target kept."""
        X = self.X.iloc[index].reset_index(drop=True) if self.modality == "table" else self.X[index]
        y = self.y[index]
        return make_dataset(name or self.name, X, y, target=self.target, schema=self.schema)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def fingerprint(X: pd.DataFrame | np.ndarray, y: np.ndarray, target: str | None) -> str:
    """sha256 of a canonical serialisation: column names and dtypes, values, labels.

    Tables are hashed through CSV text (floats written with full precision by
    pandas), images through their raw bytes plus shape and dtype, so the digest does
    not depend on the machine or on pickle/pyarrow versions.
    """
    digest = hashlib.sha256()
    digest.update(f"target={target}\n".encode())
    if isinstance(X, pd.DataFrame):
        digest.update(("|".join(f"{c}:{t}" for c, t in X.dtypes.items()) + "\n").encode())
        digest.update(X.to_csv(index=False, lineterminator="\n").encode())
    else:
        arr = np.ascontiguousarray(X)
        digest.update(f"{arr.shape}:{arr.dtype.str}\n".encode())
        digest.update(arr.tobytes())
    digest.update("\n".join(map(str, y)).encode())
    return digest.hexdigest()


def make_dataset(
    name: str,
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    target: str | None = None,
    schema: TableSchema | None = None,
) -> Dataset:
    """Check and wrap features and labels into a Dataset (schema inferred if absent)."""
    y = np.asarray(y)
    if len(y) == 0:
        raise DataError(f"dataset {name!r} has no rows")
    if len(X) != len(y):
        raise DataError(f"dataset {name!r}: {len(X)} feature rows but {len(y)} labels")
    if pd.isna(pd.Series(y)).any():
        missing = int(pd.isna(pd.Series(y)).sum())
        raise DataError(f"dataset {name!r}: {missing} rows have no label; remove them first")
    classes = sorted(np.unique(y).tolist(), key=lambda v: (str(type(v)), v))
    if isinstance(X, pd.DataFrame):
        modality: Modality = "table"
        if schema is None:
            schema = infer_schema(X, target)
    else:
        modality = "image"
        if X.ndim not in (3, 4):
            raise DataError(f"images must be [N,H,W] or [N,C,H,W], got shape {X.shape}")
    return Dataset(name, modality, X, y, classes, target, schema, fingerprint(X, y, target))


def require_two_classes(ds: Dataset) -> Dataset:
    if len(ds.classes) < 2:
        raise DataError(
            f"dataset {ds.name!r}: the target has a single class ({ds.classes[0]!r}); "
            "a class-conditional generator needs at least two"
        )
    return ds


def load_dataset(
    source: str,
    target: str | None = None,
    overrides: dict[str, str] | None = None,
    single_class_ok: bool = False,
) -> Dataset:
    """Load a labelled dataset.

    Args:
        source: "builtin:digits" | "builtin:breast_cancer" | "builtin:iris", or a path
            to a .csv / .parquet table, an .npz holding arrays X and y, or a folder of
            images with one subfolder per class.
        target: the label column of a table (required for CSV and parquet).
        overrides: table schema overrides {column: "drop" | kind}.
        single_class_ok: accept a target with one class (e.g. a synthetic set that only
            tops up the minority class); training data needs at least two.
    """
    if source.startswith("builtin:"):
        ds = _load_builtin(source.removeprefix("builtin:"))
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"no such file or folder: {source}")
        if path.is_dir():
            ds = _load_image_folder(path)
        elif path.suffix.lower() in TABLE_SUFFIXES:
            ds = _load_table(path, target)
        elif path.suffix.lower() == ".npz":
            ds = _load_npz(path)
        else:
            raise DataError(
                f"unsupported file type {path.suffix!r} for {source}; expected one of "
                f"{', '.join(TABLE_SUFFIXES + ('.npz',))} or a folder of class subfolders"
            )
    if overrides:
        if ds.modality != "table":
            raise DataError("schema overrides apply to tables only")
        X, schema = apply_overrides(ds.X, ds.schema, overrides)
        ds = make_dataset(ds.name, X, ds.y, target=ds.target, schema=schema)
    return ds if single_class_ok else require_two_classes(ds)


def _load_builtin(name: str) -> Dataset:
    from sklearn import datasets

    if name not in BUILTIN:
        raise DataError(f"unknown builtin dataset {name!r}; available: {', '.join(BUILTIN)}")
    if name == "digits":
        bunch = datasets.load_digits()
        # values are whole numbers 0..16; uint8 keeps them exact and small
        return make_dataset(name, bunch.images.astype(np.uint8), bunch.target.astype(np.int64))
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X = bunch.data.copy()
    y = np.asarray(bunch.target_names)[bunch.target.to_numpy()].astype(object)
    return make_dataset(name, X, y, target="target")


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, skipinitialspace=True, na_values=["?"])
        else:
            df = pd.read_parquet(path)
    except Exception as err:  # pandas/pyarrow raise many types for unreadable files
        raise DataError(f"cannot read {path}: {err}") from err
    df.columns = [str(c).strip() for c in df.columns]
    for column in df.columns:  # stray spaces around text values (e.g. the Adult table)
        if pd.api.types.is_string_dtype(df[column]) or df[column].dtype == object:
            df[column] = df[column].map(lambda v: v.strip() if isinstance(v, str) else v)
    return df


def _load_table(path: Path, target: str | None) -> Dataset:
    if target is None:
        raise DataError(f"{path.name}: name the target column (--target COL)")
    df = _read_table(path)
    if df.empty:
        raise DataError(f"{path} has no rows")
    if target not in df.columns:
        raise DataError(f"target column {target!r} not in {path.name}; columns: {list(df.columns)}")
    y = df[target].to_numpy()
    X = df.drop(columns=[target])
    return make_dataset(path.stem, X, y, target=target)


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"X", "y"} - set(data.files)
            if missing:
                raise DataError(f"{path.name} lacks arrays {sorted(missing)}; found {data.files}")
            X, y = data["X"], data["y"]
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"cannot read {path} as NPZ: {err}") from err
    if X.ndim == 2:
        table = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        return make_dataset(path.stem, table, y, target="y")
    return make_dataset(path.stem, X, y)


def _load_image_folder(path: Path) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    class_dirs = sorted(p for p in path.iterdir() if p.is_dir())
    if not class_dirs:
        raise DataError(f"{path} has no class subfolders (expected {path}/<class>/<image>.png)")
    images, labels, shapes = [], [], {}
    for class_dir in class_dirs:
        files = sorted(f for f in class_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for file in files:
            try:
                with Image.open(file) as img:
                    arr = np.asarray(img.convert("L") if img.mode in ("1", "P", "LA") else img)
            except (UnidentifiedImageError, OSError) as err:
                raise DataError(f"cannot read image {file}: {err}") from err
            if arr.ndim == 3:  # [H, W, C] -> [C, H, W]
                arr = arr.transpose(2, 0, 1)
            shapes.setdefault((arr.shape, arr.dtype.str), file)
            images.append(arr)
            labels.append(class_dir.name)
    if not images:
        raise DataError(f"{path} has no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(shapes) > 1:
        found = "; ".join(f"{s} {d} (e.g. {f.relative_to(path)})" for (s, d), f in shapes.items())
        raise DataError(f"images in {path} have mixed shapes: {found}; resize them to one shape")
    return make_dataset(path.name, np.stack(images), np.asarray(labels, dtype=object))
