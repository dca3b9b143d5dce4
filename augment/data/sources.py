"""Dataset sources: builtin datasets, CSV/parquet tables, NPZ arrays, image folders.

`load_dataset(source, target)` returns a `Dataset`; every unreadable or unusable
source raises `DataError` naming the problem.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from augment.data.schema import TableSchema, check_overrides, infer_schema, to_python
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
        return {to_python(label): int(c) for label, c in zip(labels, counts, strict=True)}

    def subset(self, index: np.ndarray, name: str | None = None) -> Dataset:
        """The rows at `index` (positions), with schema and target kept."""
        X = self.X.iloc[index].reset_index(drop=True) if self.modality == "table" else self.X[index]
        y = self.y[index]
        return make_dataset(name or self.name, X, y, target=self.target, schema=self.schema)


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
    if y.ndim != 1:
        raise DataError(f"dataset {name!r}: labels must be one-dimensional, got shape {y.shape}")
    if len(y) == 0:
        raise DataError(f"dataset {name!r} has no rows")
    if len(X) != len(y):
        raise DataError(f"dataset {name!r}: {len(X)} feature rows but {len(y)} labels")
    labels = pd.Series(y, dtype=object if y.dtype == object else None)
    missing = int(pd.isna(labels).sum())
    if missing == len(y):
        where = f"the target column {target!r}" if target else "the labels"
        raise DataError(f"dataset {name!r}: {where} has no values (all {missing} rows are missing)")
    if missing:
        raise DataError(f"dataset {name!r}: {missing} rows have no label; remove them first")
    if y.dtype == object:
        _check_label_types(name, labels)
    classes = sorted(np.unique(y).tolist(), key=lambda v: (str(type(v)), v))
    if isinstance(X, pd.DataFrame):
        modality: Modality = "table"
        if schema is None:
            schema = infer_schema(X, target)
    else:
        modality = "image"
        X = np.asarray(X)
        if X.ndim not in (3, 4):
            raise DataError(f"images must be [N,H,W] or [N,C,H,W], got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise DataError(f"dataset {name!r}: image pixels must be numbers, got dtype {X.dtype}")
        if np.issubdtype(X.dtype, np.floating):
            nan, inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
            if nan or inf:
                bad = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
                raise DataError(f"dataset {name!r}: {len(bad)} image(s) hold {nan} NaN and {inf} "
                                f"infinite pixel(s) (first: image {int(bad[0])}); clean them")
    return Dataset(name, modality, X, y, classes, target, schema, fingerprint(X, y, target))


def require_two_classes(ds: Dataset) -> Dataset:
    if len(ds.classes) < 2:
        raise DataError(
            f"dataset {ds.name!r}: the target has a single class ({ds.classes[0]!r}); "
            "a class-conditional generator needs at least two"
        )
    return ds


def _label_group(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.number):
        return "number"
    return "text" if isinstance(value, str) else type(value).__name__


def _check_label_types(name: str, labels: pd.Series) -> None:
    """DataError when labels mix kinds of values (1 and "a"): they cannot be ordered."""
    examples: dict[str, object] = {}
    for value in pd.unique(labels):
        examples.setdefault(_label_group(value), value)
        if len(examples) > 1:
            (a, first), (b, second) = list(examples.items())[:2]
            raise DataError(f"dataset {name!r}: the labels mix {a} and {b} values (e.g. "
                            f"{to_python(first)!r} and {to_python(second)!r}); make them one type")


def _source_text(source: object) -> str:
    """`source` as text: a str or an os.PathLike (pathlib.Path); anything else is a DataError."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
        source = source.decode(errors="replace") if isinstance(source, bytes) else source
    if not isinstance(source, str):
        raise DataError(f"a dataset source must be a str or pathlib.Path (a .csv/.parquet/.npz "
                        f"file, an image folder, or builtin:NAME), got {type(source).__name__} "
                        f"{str(source)[:60]!r}")
    if not source.strip():
        raise DataError("the dataset source is empty: give a file, an image folder or builtin:NAME")
    return source


def load_dataset(
    source: str | os.PathLike,
    target: str | None = None,
    overrides: dict[str, str] | None = None,
    single_class_ok: bool = False,
) -> Dataset:
    """Load a labelled dataset.

    Args:
        source: "builtin:digits" | "builtin:breast_cancer" | "builtin:iris", or a path
            (str or pathlib.Path) to a .csv / .parquet table, an .npz holding arrays X and
            y, or a folder of images with one subfolder per class.
        target: the label column of a table (required for CSV and parquet).
        overrides: table schema overrides {column: "drop" | kind}. A declared column
            takes that kind even where inference would refuse it (numbers mixed with text).
        single_class_ok: accept a target with one class (e.g. a synthetic set that only
            tops up the minority class); training data needs at least two.
    """
    source = _source_text(source)
    if source.startswith("builtin:"):
        name, X, y, target = _load_builtin(source.removeprefix("builtin:"))
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"no such file or folder: {source}")
        if path.is_dir():
            name, X, y, target = _load_image_folder(path)
        elif path.suffix.lower() in TABLE_SUFFIXES:
            name, X, y, target = _load_table(path, target)
        elif path.suffix.lower() == ".npz":
            name, X, y, target = _load_npz(path)
        else:
            raise DataError(
                f"unsupported file type {path.suffix!r} for {source}; expected one of "
                f"{', '.join(TABLE_SUFFIXES + ('.npz',))} or a folder of class subfolders"
            )
    schema = None
    if overrides:
        if not isinstance(X, pd.DataFrame):
            raise DataError("schema overrides (--drop, --declare) apply to tables only")
        check_overrides(list(X.columns), overrides)
        X = X.drop(columns=[c for c, kind in overrides.items() if kind == "drop"])
        declared = {c: kind for c, kind in overrides.items() if kind != "drop"}
        schema = infer_schema(X, target, declared=declared)
    ds = make_dataset(name, X, y, target=target, schema=schema)
    return ds if single_class_ok else require_two_classes(ds)


Raw = tuple[str, pd.DataFrame | np.ndarray, np.ndarray, str | None]  # name, X, y, target


def _load_builtin(name: str) -> Raw:
    from sklearn import datasets

    if name not in BUILTIN:
        raise DataError(f"unknown builtin dataset {name!r}; available: {', '.join(BUILTIN)}")
    if name == "digits":
        bunch = datasets.load_digits()
        # values are whole numbers 0..16; uint8 keeps them exact and small
        return name, bunch.images.astype(np.uint8), bunch.target.astype(np.int64), None
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    X = bunch.data.copy()
    y = np.asarray(bunch.target_names)[bunch.target.to_numpy()].astype(object)
    return name, X, y, "target"


def _csv_header(path: Path) -> list[str] | None:
    """The raw header row of a CSV (pandas renames a repeated name `x` to `x.1`)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        row = next(csv.reader(handle, skipinitialspace=True), None)
    return None if row is None else [name.strip() for name in row]


def _check_unique_columns(path: Path, names: list[str]) -> None:
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = {name: n for name, n in seen.items() if n > 1}
    if repeated:
        shown = ", ".join(f"{name!r} ({n} times)" for name, n in repeated.items())
        raise DataError(f"{path.name} has duplicated column names: {shown}; give every column "
                        "its own name")


def _read_table(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    try:
        if path.suffix.lower() == ".csv":
            header = _csv_header(path)
            if header:
                _check_unique_columns(path, header)
            df = pd.read_csv(path, skipinitialspace=True, na_values=["?"])
        else:
            df = pd.read_parquet(path)
    except DataError:
        raise
    except Exception as err:  # pandas/pyarrow raise many types for unreadable files
        raise DataError(f"cannot read {path}: {err}") from err
    df.columns = [str(c).strip() for c in df.columns]
    _check_unique_columns(path, list(df.columns))  # parquet, or names equal once stripped
    for column in df.columns:  # stray spaces around text values (e.g. the Adult table)
        if pd.api.types.is_string_dtype(df[column]) or df[column].dtype == object:
            df[column] = df[column].map(lambda v: v.strip() if isinstance(v, str) else v)
    return df


def _load_table(path: Path, target: str | None) -> Raw:
    if target is None:
        raise DataError(f"{path.name}: name the target column (--target COL)")
    df = _read_table(path)
    if target not in df.columns:
        raise DataError(f"target column {target!r} not in {path.name}; columns: {list(df.columns)}")
    if df.empty:
        raise DataError(f"{path} has no rows (only a header)")
    if df.shape[1] == 1:
        raise DataError(f"{path.name}: no feature columns left: the table holds only the target "
                        f"column {target!r}")
    y = df[target].to_numpy()
    X = df.drop(columns=[target])
    return path.stem, X, y, target


def read_npz(path: Path, arrays: tuple[str, ...] = ("X", "y")) -> tuple[np.ndarray, ...]:
    """The named arrays of an .npz file (no pickled objects); anything else is a DataError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = set(arrays) - set(data.files)
            if missing:
                raise DataError(f"{path.name} lacks arrays {sorted(missing)}; found {data.files}")
            return tuple(data[name] for name in arrays)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"cannot read {path} as NPZ (arrays {' and '.join(arrays)}, no pickled "
                        f"objects): {err}") from err


def npz_features(X: np.ndarray) -> pd.DataFrame | np.ndarray:
    """An .npz array X as features: a 2-D array is a table with columns x0, x1, ..."""
    if X.ndim == 2:
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return X


def _load_npz(path: Path) -> Raw:
    X, y = read_npz(path)
    features = npz_features(X)
    return path.stem, features, y, "y" if isinstance(features, pd.DataFrame) else None


def _load_image_folder(path: Path) -> Raw:
    class_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{path} has no class subfolders (expected {path}/<class>/<image>.png)")
    groups = []
    for class_dir in class_dirs:
        files = image_files(class_dir)
        if not files:
            raise DataError(f"class folder {class_dir} has no images ({', '.join(IMAGE_SUFFIXES)}); "
                            "add some or remove the folder")
        groups.append((class_dir.name, files))
    images, labels = read_images(path, groups)
    return path.name, images, labels, None


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, sorted."""
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def read_images(root: Path, groups: list[tuple[str, list[Path]]]) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, H, W] or [N, C, H, W] and labels [N] of (label, files) groups under `root`;
    an unreadable image or mixed shapes are a DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    images, labels, shapes = [], [], {}
    for label, files in groups:
        for file in files:
            try:
                with Image.open(file) as img:
                    arr = np.asarray(img.convert("L") if img.mode in ("1", "P", "LA") else img)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                raise DataError(f"cannot read image {file}: {err}") from err
            if arr.ndim == 3:  # [H, W, C] -> [C, H, W]
                arr = arr.transpose(2, 0, 1)
            shapes.setdefault((arr.shape, arr.dtype.str), file)
            images.append(arr)
            labels.append(label)
    if len(shapes) > 1:
        found = "; ".join(f"{s} {d} (e.g. {f.relative_to(root)})" for (s, d), f in shapes.items())
        raise DataError(f"images in {root} have mixed shapes: {found}; resize them to one shape")
    return np.stack(images), np.asarray(labels, dtype=object)
