"""Safe artifact writes: atomic, never over a user's files, no temporary files left behind.

- Atomic: everything is written to a temporary sibling and renamed into place with
  `os.replace`, which is atomic on POSIX filesystems when source and target share a
  folder. A killed task leaves the old artifact or the new one, never half of one.
- Never clobber: every folder this project writes holds a marker file (`MARKER`) naming
  its kind. Replacing a folder is allowed only when it is absent, empty, or carries the
  marker of the same kind; anything else is an `OutputExistsError` naming the path
  (unless `force=True`). Files are refused the same way unless the caller knows them
  (see `check_file_writable`).
- No strays: temporary siblings carry the writer's pid (`.<name>.tmp-<pid>-<random>`);
  the next write to the same path removes those whose writer is no longer alive.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from augment.errors import AugmentError, OutputExistsError
from augment.workspace import (
    INFO_FILE,
    MANIFEST_FILE,
    MODEL_CONFIG_FILE,
    REQUESTED_FILE,
)

MARKER = ".augment.json"  # in every folder this project writes: {"artifact": kind, ...}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale(path: Path) -> list[Path]:
    """Remove temporary siblings of `path` left by writers that died; returns them."""
    removed = []
    if not path.parent.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for stray in path.parent.glob(f".{path.name}.{kind}-*"):
            pid = stray.name.rsplit(f".{kind}-", 1)[-1].split("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                if stray.is_dir() and not stray.is_symlink():
                    shutil.rmtree(stray, ignore_errors=True)
                else:
                    stray.unlink(missing_ok=True)
                removed.append(stray)
    return removed


def artifact_kind(path: str | Path) -> str | None:
    """The kind recorded in folder `path`'s marker, or None when it has none."""
    marker = Path(path) / MARKER
    try:
        kind = json.loads(marker.read_text()).get("artifact")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


# Folders written before the marker existed are recognised by a file only augment writes
# there; anything else stays refused.
_LEGACY_SIGNS: dict[str, tuple[str, str]] = {
    "model": (MODEL_CONFIG_FILE, '"format": "augment-generator"'),
    "prepared": (INFO_FILE, '"fingerprint"'),
    "synthetic": (REQUESTED_FILE, ""),
    "gate": ("summary.json", '"data_docs"'),  # the gate's file before gate.json
    "published": (MANIFEST_FILE, '"content_hash"'),
}


def _legacy_kind(path: Path) -> str | None:
    for kind, (name, text) in _LEGACY_SIGNS.items():
        try:
            if text in (path / name).read_text(errors="replace"):
                return kind
        except OSError:
            continue
    return None


def check_writable(path: str | Path, kind: str, force: bool = False) -> None:
    """Raise `OutputExistsError` unless folder `path` may be replaced by an artifact `kind`.

    Allowed: nothing there, an empty folder, or a folder marked as `kind` by this project.
    `force` allows anything except a symlink or a path that is not a folder or file.
    """
    path = Path(path)
    _check_parents(path)
    if path.is_symlink():
        raise OutputExistsError(f"{path} is a symbolic link; refusing to replace it")
    if not path.exists() or force:
        return
    if not path.is_dir():
        raise OutputExistsError(f"{path} exists and is a file, not a {kind} folder; pick another "
                                "path or pass --force to replace it")
    found = artifact_kind(path) or _legacy_kind(path)
    if found == kind or not any(path.iterdir()):
        return
    what = f"a {found} folder written by augment" if found else "files augment did not write"
    raise OutputExistsError(f"{path} already holds {what}; refusing to replace it with a {kind} "
                            "(pick another path, or pass --force to replace it)")


def check_file_writable(path: str | Path, force: bool = False, ours: bool = False) -> None:
    """Raise `OutputExistsError` when file `path` exists and neither `ours` nor `force`.

    ours: the caller recognised the file as one it wrote (e.g. by its sidecar).
    """
    path = Path(path)
    _check_parents(path)
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file path")
    if path.exists() and not (ours or force):
        raise OutputExistsError(f"{path} already exists; pick another path or pass --force to "
                                "overwrite it")


def _check_parents(path: Path) -> None:
    """An AugmentError when the nearest existing ancestor of `path` is not a folder."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise AugmentError(f"cannot create {path}: {parent} is a file, not a folder")
            return


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise AugmentError(f"cannot create {path.parent}: a file is in the way ({err})") from err
    except PermissionError as err:
        raise AugmentError(f"cannot write under {path.parent}: permission denied") from err
    except OSError as err:  # e.g. under /proc, a read-only filesystem
        raise AugmentError(f"cannot create {path.parent}: {err.strerror or err}") from err


def _tmp_name(path: Path, kind: str) -> str:
    return f".{path.name}.{kind}-{os.getpid()}-"


def _new_temp(path: Path, folder: bool) -> Path:
    """A fresh temporary sibling of `path` (a folder or an empty file), with the modes a
    plain mkdir / open would give; a folder we may not write to is an AugmentError."""
    try:
        if folder:
            tmp = Path(tempfile.mkdtemp(prefix=_tmp_name(path, "tmp"), dir=path.parent))
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; artifacts are shared
        else:
            fd, name = tempfile.mkstemp(prefix=_tmp_name(path, "tmp"), dir=path.parent,
                                        suffix=path.suffix)
            os.close(fd)
            tmp = Path(name)
            tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600
    except PermissionError as err:
        raise AugmentError(f"cannot write under {path.parent}: permission denied") from err
    except OSError as err:  # a read-only filesystem, a full disk
        raise AugmentError(f"cannot write under {path.parent}: {err.strerror or err}") from err
    return tmp


@contextmanager
def atomic_dir(path: str | Path, kind: str, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces folder `path` when the block succeeds.

    The folder gets the marker of `kind`. Refuses (before the block runs) to replace
    anything `check_writable` refuses. On an exception the temporary folder is removed
    and `path` is left untouched.
    """
    path = Path(path)
    check_writable(path, kind, force)
    _make_parent(path)
    clean_stale(path)
    tmp = _new_temp(path, folder=True)
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps({"artifact": kind, "writer": "augment"}) + "\n")
        check_writable(path, kind, force)  # nothing foreign appeared meanwhile
        old = path.with_name(_tmp_name(path, "old") + secrets.token_hex(4))
        if path.exists() or path.is_symlink():
            os.replace(path, old)
        os.replace(tmp, path)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path that replaces file `path` when the block succeeds.

    Callers that write where a user points them check `check_file_writable` first.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file path")
    _make_parent(path)
    clean_stale(path)
    tmp = _new_temp(path, folder=False)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def json_safe(value: Any) -> Any:
    """A strict-JSON copy of nested dicts / lists / tuples: numpy scalars become Python,
    timestamps ISO text, non-finite floats (an infinite DCR ratio) and paths strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, datetime):  # pandas Timestamps too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value) if isinstance(value, Path) else value


def write_json(path: str | Path, payload: Any) -> None:
    """Atomically write `payload` as indented strict JSON (see `json_safe`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(json_safe(payload), indent=2, default=str) + "\n")


def read_json(path: str | Path, what: str = "file", fix: str = "") -> Any:
    """The JSON object in `path`; an unreadable or non-object file is an AugmentError
    naming it (and `fix`, what to do about it)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AugmentError(f"cannot read the {what} {path}: {err}{'; ' + fix if fix else ''}") from err
    if not isinstance(payload, dict):
        raise AugmentError(f"the {what} {path} holds {type(payload).__name__}, not a JSON object"
                           f"{'; ' + fix if fix else ''}")
    return payload
