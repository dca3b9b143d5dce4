"""Published augmented datasets: build, version (git tag + DVC push), load by version.

A published dataset is the folder data/published/<ds>/ holding
- augmented.parquet (tables: features, target, `_synthetic`, `_generator`) or
  augmented.npz (images: X, y, synthetic, generator);
- manifest.json: lineage (raw fingerprint, params, generators, git revision, gate
  outcome, metrics) and `content_hash`, the sha256 of the data file.

`publish_version` commits dvc.lock, tags the revision `<ds>-v<N>` and pushes the data
to the DVC remote; a version never changes. `load_augmented` reads any version back
through `dvc.api`, from this repository or another one (path or URL); `latest_version`
and `get_at_revision` give the train stage the models a version recorded (warm starts).

Runs of several datasets may publish into one repository at the same time (Airflow
runs, a user's CLI). git (index.lock) and DVC (its repository lock, given up after 3 s)
refuse a second writer instead of waiting, and two runs of one dataset could pick the
same next tag. So every writer of the repository's history holds `workspace_lock`:
`publish_version` holds it from its checks to the push, and a caller that runs its own
`dvc commit` first (the DAG) holds it around both.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from augment.errors import AugmentError
from augment.workspace import (
    AUGMENTED_IMAGES,
    AUGMENTED_TABLE,
    MANIFEST_FILE,
    Workspace,
    check_name,
    published_path,
)

SYNTHETIC_COLUMN, GENERATOR_COLUMN = "_synthetic", "_generator"
LOCK_FILE = "augment-publish.lock"  # in the repository's .dvc/tmp (ignored by git)
LOCK_TIMEOUT = 600.0  # seconds to wait for another publisher: a dvc push can take minutes
_held = threading.local()  # {lock path: depth} of the locks this thread holds


@dataclass(frozen=True)
class AugmentedData:
    """An augmented dataset as loaded by a training script.

    Attributes:
        X: DataFrame [N, F] or images [N, ...].
        y: labels [N].
        synthetic: bool [N], True for generated rows.
        generator: str [N], the family that made each synthetic row ("" for real rows).
        manifest: the lineage record of this version.
    """

    X: pd.DataFrame | np.ndarray
    y: np.ndarray
    synthetic: np.ndarray
    generator: np.ndarray
    manifest: dict


def combine(real_X, real_y, parts: dict[str, tuple[Any, np.ndarray]]) -> AugmentedData:
    """Real rows first, then each generator's rows, marked by `synthetic` / `generator`."""
    names = [""] * len(real_y)
    if isinstance(real_X, pd.DataFrame):
        X = pd.concat([real_X, *(p[0] for p in parts.values())], ignore_index=True)
    else:
        X = np.concatenate([real_X, *(p[0] for p in parts.values())])
    y = np.concatenate([np.asarray(real_y), *(np.asarray(p[1]) for p in parts.values())])
    for name, (_, labels) in parts.items():
        names += [name] * len(labels)
    generator = np.asarray(names, dtype=str)
    return AugmentedData(X, y, generator != "", generator, {})


def data_file_name(data: AugmentedData) -> str:
    return AUGMENTED_TABLE if isinstance(data.X, pd.DataFrame) else AUGMENTED_IMAGES


def write_augmented(folder: Path, data: AugmentedData, target: str, manifest: dict) -> dict:
    """Write the data file and manifest.json (with content_hash) into `folder`."""
    path = folder / data_file_name(data)
    if isinstance(data.X, pd.DataFrame):
        frame = data.X.copy()
        frame[target] = data.y
        frame[SYNTHETIC_COLUMN] = data.synthetic
        frame[GENERATOR_COLUMN] = data.generator
        frame.to_parquet(path, index=False)
    else:
        labels = data.y.astype(str) if data.y.dtype == object else data.y
        with open(path, "wb") as handle:
            np.savez_compressed(handle, X=data.X, y=labels, synthetic=data.synthetic,
                                generator=data.generator)
    manifest = {**manifest, "target": target, "data_file": path.name,
                "content_hash": hashlib.sha256(path.read_bytes()).hexdigest()}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def git_revision(repo: str | Path = ".") -> str:
    """HEAD's commit (with "-dirty" when tracked files changed), or "unknown"."""
    try:
        rev = _git(repo, "rev-parse", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
        return rev + ("-dirty" if dirty else "")
    except AugmentError:
        return "unknown"


def tag_revision(tag: str, repo: str | Path = ".") -> str:
    """The commit a version tag points at (not HEAD, which a later publish may have moved)."""
    return _git(repo, "rev-parse", f"{tag}^{{commit}}")


def _git(repo: str | Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                             check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        stderr = getattr(err, "stderr", "") or str(err)
        raise AugmentError(f"git {' '.join(args)} failed: {stderr.strip()}") from err
    return out.stdout.strip()


def _dvc(repo: str | Path, *args: str) -> str:
    try:
        # `python -m dvc`: the dvc of this environment, whether or not it is on PATH
        out = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=str(repo),
                             capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        stderr = getattr(err, "stderr", "") or str(err)
        raise AugmentError(f"dvc {' '.join(args)} failed: {stderr.strip()}") from err
    return out.stdout.strip()


def _identity(repo: str | Path) -> list[str]:
    """`-c` options naming a committer when the machine has none configured."""
    try:
        _git(repo, "config", "user.email")
        return []
    except AugmentError:
        return ["-c", "user.name=augment", "-c", "user.email=augment@localhost"]


def _lock_path(repo: str | Path) -> Path:
    root = Path(repo).expanduser().resolve()
    if not (root / ".dvc").is_dir():
        raise AugmentError(f"{root} is not a DVC repository (no .dvc folder): versions are "
                           "published from the root of a git+DVC repository")
    return root / ".dvc" / "tmp" / LOCK_FILE


def _holder(fd: int) -> str:
    """The pid written by the process that holds the lock (best effort, for messages)."""
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" (held by pid {text})" if text.isdigit() else ""


@contextmanager
def workspace_lock(repo: str | Path = ".", timeout: float = LOCK_TIMEOUT) -> Iterator[Path]:
    """Hold the repository's publish lock: one writer of git and DVC state at a time.

    An exclusive `fcntl.flock` on .dvc/tmp/augment-publish.lock, waited for up to
    `timeout` seconds, then an `AugmentError` naming the lock file and its holder. The
    kernel drops the lock when its holder exits, even by SIGKILL, so a dead run never
    blocks the next one. Re-entrant within a thread (the DAG holds it around its
    `dvc commit` and `publish_version`, which takes it again); other threads and
    processes wait. Yields the lock file's path.
    """
    path = _lock_path(repo)
    held: dict[Path, int] = _held.__dict__.setdefault("depth", {})
    if held.get(path):
        held[path] += 1
        try:
            yield path
        finally:
            held[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by subprocesses
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AugmentError(
                        f"another publish of {path.parents[2]} has held {path}{_holder(fd)} for "
                        f"over {timeout:.0f} s; wait for it to finish, or stop it") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        held[path] = 1
        try:
            yield path
        finally:
            del held[path]
    finally:
        os.close(fd)  # releases the flock


def versions(dataset: str, repo: str = ".") -> list[int]:
    """Published version numbers of `dataset`, from the tags `<dataset>-v<N>`."""
    check_name(dataset, "dataset")
    if Path(repo).exists():
        tags = _git(repo, "tag", "--list", f"{dataset}-v*").split()
    else:  # a URL; `--` so that a repo string starting with "-" is never an option
        out = subprocess.run(["git", "ls-remote", "--tags", "--", repo], capture_output=True,
                             text=True)
        tags = [line.split("refs/tags/")[-1] for line in out.stdout.splitlines()]
    pattern = re.compile(rf"^{re.escape(dataset)}-v(\d+)$")
    return sorted(int(m.group(1)) for t in tags if (m := pattern.match(t)))


def latest_version(dataset: str, repo: str | Path = ".") -> str | None:
    """The tag of the latest published version of `dataset` (`<dataset>-v<N>`), or None."""
    done = versions(dataset, str(repo))
    return f"{dataset}-v{done[-1]}" if done else None


def get_at_revision(path: str, dest: str | Path, repo: str | Path, rev: str) -> Path:
    """Copy the folder `path` (repository-relative, DVC- or git-tracked) as recorded at `rev`
    into `dest` (which must not exist yet); returns `dest`.

    Reads through `dvc.api.DVCFileSystem`: the commit's dvc.lock names the content, which
    comes from the local cache, else the default remote. Only reading, it takes no
    repository lock, so it works inside a stage that `dvc repro` is running.
    """
    import dvc.api

    fs = None
    try:
        fs = dvc.api.DVCFileSystem(str(repo), rev=rev)
        if not fs.isdir(path):
            raise AugmentError(f"{rev} does not record {path}")
        fs.get(path, str(dest), recursive=True)
    except AugmentError:
        raise
    except FileNotFoundError as err:  # dvc_data: "No storage files available"
        raise AugmentError(f"the data of {path} at {rev} is neither in the DVC cache nor on a "
                           f"remote ({err})") from err
    except Exception as err:  # dvc and scmrepo raise many types: unknown rev, bad remote
        raise AugmentError(f"cannot read {path} at {rev} of {repo}: {err}") from err
    finally:
        if fs is not None:
            fs.close()
    return Path(dest)


def read_manifest(dataset: str, repo: str = ".", rev: str | None = None) -> dict:
    import dvc.api

    path = published_path(dataset)
    try:
        return json.loads(dvc.api.read(path, repo=repo, rev=rev))
    except Exception as err:  # dvc raises many types: missing path, rev, remote
        raise AugmentError(f"cannot read {path} at {rev or 'the workspace'} of {repo}: {err}") from err


def publish_version(dataset: str, repo: str = ".", push: bool = True) -> str:
    """Tag the published dataset in the workspace as the next version and push its data.

    Refuses a dataset whose gate failed, and a workspace whose published folder (or any
    input of its `publish@<dataset>` stage) differs from what dvc.lock records, since the
    tag would point at other data than the workspace holds. If the latest version holds
    the same content, returns its tag and changes nothing: a version is never rewritten.

    Holds `workspace_lock(repo)` from the checks to the push, so concurrent publishers
    of other datasets wait instead of colliding in git or DVC, and two publishers of one
    dataset cannot take the same version number.

    Returns:
        the tag, e.g. "digits-v3".
    """
    _publishable(dataset, repo)  # refuse at once, without waiting for the lock
    with workspace_lock(repo):
        return _publish_locked(dataset, repo, push)


def _publishable(dataset: str, repo: str) -> dict:
    """The workspace's manifest of `dataset`; an error when there is none or its gate failed."""
    local = Workspace(repo).manifest(dataset)
    if not local.is_file():
        raise AugmentError(f"nothing to publish: {local} is missing (run `dvc repro` first)")
    manifest = json.loads(local.read_text())
    if not manifest.get("gate", {}).get("passed"):
        raise AugmentError(f"{dataset} did not pass its validation gate; nothing is published")
    return manifest


def _publish_locked(dataset: str, repo: str, push: bool) -> str:
    manifest = _publishable(dataset, repo)  # again: it may have changed while we waited
    stale = json.loads(_dvc(repo, "status", "--json", f"publish@{dataset}") or "{}")
    if stale:
        raise AugmentError(f"{published_path(dataset, '')} is not what `dvc repro` recorded in dvc.lock "
                           f"({json.dumps(stale)}); run `dvc repro` and publish again")
    done = versions(dataset, repo)
    for version in reversed(done):
        tag = f"{dataset}-v{version}"
        if read_manifest(dataset, repo, tag).get("content_hash") == manifest["content_hash"]:
            return tag
    tag = f"{dataset}-v{(done[-1] if done else 0) + 1}"
    recorded = ("dvc.lock", "params.yaml", "dvc.yaml")
    _git(repo, "add", *recorded)
    identity = _identity(repo)
    if _git(repo, "diff", "--cached", "--name-only", "--", *recorded):
        # only these files: whatever else the user staged stays staged, not published
        _git(repo, *identity, "commit", "-q", "-m", f"Publish {tag}", "--", *recorded)
    _git(repo, *identity, "tag", "-a", tag, "-m", json.dumps({"dataset": dataset,
                                                             "content_hash": manifest["content_hash"]}))
    if push and _dvc(repo, "remote", "list"):
        _dvc(repo, "push", "-q")
    return tag


def _parse(payload: io.BytesIO, data_file: str, manifest: dict) -> AugmentedData:
    if data_file.endswith(".parquet"):
        frame = pd.read_parquet(payload)
        target = manifest["target"]
        y = frame[target].to_numpy()
        synthetic = frame[SYNTHETIC_COLUMN].to_numpy(dtype=bool)
        generator = frame[GENERATOR_COLUMN].to_numpy(dtype=str)
        X = frame.drop(columns=[target, SYNTHETIC_COLUMN, GENERATOR_COLUMN])
        return AugmentedData(X, y, synthetic, generator, manifest)
    with np.load(payload, allow_pickle=False) as arrays:
        return AugmentedData(arrays["X"], arrays["y"], arrays["synthetic"], arrays["generator"],
                             manifest)


def load_augmented_folder(folder: str | Path) -> AugmentedData:
    """Read a published folder from the workspace (no version lookup)."""
    folder = Path(folder)
    if not (folder / MANIFEST_FILE).is_file():
        raise AugmentError(f"{folder} holds no published dataset ({MANIFEST_FILE} missing)")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    payload = io.BytesIO((folder / manifest["data_file"]).read_bytes())
    return _parse(payload, manifest["data_file"], manifest)


def load_augmented(dataset: str, version: int | str | None = None, repo: str = ".") -> AugmentedData:
    """Load a published version (latest when None) from a repository path or URL.

    Works from another project: `load_augmented("digits", 2, repo="/path/or/url")`.
    """
    import dvc.api

    if version is None:
        found = versions(dataset, repo)
        if not found:
            raise AugmentError(f"{dataset} has no published version in {repo}")
        version = found[-1]
    rev = version if isinstance(version, str) and "-v" in version else f"{dataset}-v{version}"
    manifest = read_manifest(dataset, repo, rev)
    path = published_path(dataset, manifest["data_file"])
    with dvc.api.open(path, repo=repo, rev=rev, mode="rb") as handle:
        payload = io.BytesIO(handle.read())
    return _parse(payload, manifest["data_file"], manifest)
