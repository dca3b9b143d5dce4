"""Content-keyed arrays that a later call with the same inputs reuses instead of recomputing.

The validation gate refits the real-rows-only classifier REPS times per generator, on the
same training and validation rows for every generator of a dataset: five identical sets
of refits per dataset in `make demo`. `utility(..., cache=folder)` keeps their
predictions under a key that hashes everything they depend on (the rows, the classifier
and its parameters, the library versions, the seeds), so a hit returns exactly what the
refits would have returned, and any change of input is a new key.

The cache is optional: a missing, unreadable or corrupt entry is a miss, and a failed
write is logged and ignored. Entries are written atomically, so two stages computing the
same key at once both succeed and either's file is valid.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from augment.errors import AugmentError
from augment.io import atomic_file

log = logging.getLogger(__name__)


def array_key(*parts: Any) -> str:
    """A hex key of `parts`: arrays by dtype, shape and bytes, anything else by repr.

    Object arrays are refused (their bytes are pointers, not values)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype.kind == "O":
                raise TypeError("array_key cannot hash object arrays; convert them to str first")
            data = np.ascontiguousarray(part)
            digest.update(repr(("array", data.dtype.str, data.shape)).encode())
            digest.update(data.tobytes())
        else:
            digest.update(repr(("value", part)).encode())
    return digest.hexdigest()[:40]


def load_array(folder: str | Path, key: str) -> np.ndarray | None:
    """The array stored under `key` in `folder`, or None (missing or unreadable)."""
    path = Path(folder) / f"{key}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # truncated or foreign file: recompute
        log.warning("ignoring the unreadable cache entry %s: %s", path, err)
        return None


def save_array(folder: str | Path, key: str, array: np.ndarray) -> None:
    """Store `array` under `key` in `folder` (atomically); failures are logged, not raised."""
    path = Path(folder) / f"{key}.npy"
    try:
        with atomic_file(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
    except (OSError, AugmentError, ValueError) as err:
        log.warning("could not write the cache entry %s: %s", path, err)
