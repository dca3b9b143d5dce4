"""Stratified train/val/test split with a seed, and class thinning for scenarios."""

from __future__ import annotations

import math

import numpy as np

from augment.data.sources import Dataset
from augment.errors import ConfigError, DataError


def stratified_split(
    ds: Dataset, val: float = 0.15, test: float = 0.15, seed: int = 0
) -> tuple[Dataset, Dataset, Dataset]:
    """Split `ds` into train/val/test with every class in every split.

    Each class is shuffled with a generator seeded by `seed` and cut by the given
    fractions (at least one row of the class in each non-empty split). A class with
    fewer rows than that needs is a DataError naming the class and its count.

    Returns:
        (train, val, test) datasets named "<name>/train" etc.
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ConfigError(f"split fractions must be in [0, 1) with val + test < 1, got {val}, {test}")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    fractions = {"val": val, "test": test}
    needed = 1 + sum(1 for f in fractions.values() if f > 0)
    for label, count in ds.class_counts().items():
        if count < needed:
            raise DataError(
                f"class {label!r} has {count} row(s); a stratified split into "
                f"train/val/test needs at least {needed} rows per class"
            )
        index = np.flatnonzero(ds.y == label)
        index = index[rng.permutation(len(index))]
        sizes = {k: (max(1, round(count * f)) if f > 0 else 0) for k, f in fractions.items()}
        while count - sum(sizes.values()) < 1:  # keep at least one training row
            largest = max(sizes, key=sizes.get)
            sizes[largest] -= 1
        start = 0
        for key in ("val", "test"):
            parts[key].append(index[start : start + sizes[key]])
            start += sizes[key]
        parts["train"].append(index[start:])
    splits = tuple(
        ds.subset(np.sort(np.concatenate(parts[k])), name=f"{ds.name}/{k}")
        for k in ("train", "val", "test")
    )
    return splits  # type: ignore[return-value]


def thin_classes(ds: Dataset, classes: list, keep: float, seed: int = 0) -> Dataset:
    """Keep only a share `keep` (at least 2 rows) of each class in `classes`.

    Used to build the imbalanced scenario (e.g. digits 5-9 thinned to 10%).
    """
    return ds.subset(thin_index(ds, classes, keep, seed), name=ds.name)


def thin_index(ds: Dataset, classes: list, keep: float, seed: int = 0) -> np.ndarray:
    """Sorted positions of the rows `thin_classes` keeps."""
    if not 0 < keep <= 1:
        raise ConfigError(f"keep must be in (0, 1], got {keep}")
    unknown = [c for c in classes if c not in ds.classes]
    if unknown:
        raise DataError(f"cannot thin unknown classes {unknown}; classes are {ds.classes}")
    rng = np.random.default_rng(seed)
    keep_mask = np.ones(len(ds), dtype=bool)
    for label in classes:
        index = np.flatnonzero(ds.y == label)
        n_keep = max(2, math.ceil(len(index) * keep))
        drop = rng.permutation(index)[n_keep:]
        keep_mask[drop] = False
    return np.flatnonzero(keep_mask)


def limit_per_class(ds: Dataset, per_class: int, seed: int = 0) -> Dataset:
    """Keep at most `per_class` rows of every class (the low-data scenario)."""
    return ds.subset(per_class_index(ds, per_class, seed), name=ds.name)


def per_class_index(ds: Dataset, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of the rows `limit_per_class` keeps."""
    if per_class < 2:
        raise ConfigError(f"per_class must be at least 2, got {per_class}")
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(ds.y == label))[:per_class] for label in ds.classes]
    return np.sort(np.concatenate(keep))
