"""Move a task's inputs and outputs through the workspace's DVC remote, for DAG runs whose
tasks land on different machines (CeleryExecutor, KubernetesExecutor).

With `$AUGMENT_ARTIFACTS=remote`, every DAG task pulls the files it reads and pushes the
files it writes; nothing is shared but the remote (and Airflow's XCom, which carries only
the references). Unset, the tasks share one workspace on one disk and nothing moves.

The remote is the one `dvc push` uses (the workspace's default DVC remote, a local folder
or any URL fsspec opens, e.g. s3:// with s3fs and the usual AWS variables). Objects use
DVC 3's layout, `files/md5/<2 hex>/<30 hex>`: a file is stored once under the md5 of its
bytes, so what a task pushed and what `dvc push` publishes later are the same object.
A folder is pushed as its files plus a listing object (`<md5>.dir`, JSON
`[{"relpath", "md5"}]` sorted by relpath) whose own md5 names the folder.

A reference is `{workspace-relative path: md5 or md5.dir}`: content-addressed, so a pull
checks every byte it fetched, a retry on another worker sees exactly what the first try
saw, and a local copy that already matches is left alone. Writes are atomic (a temporary
name, then a rename) on both sides; objects are immutable, so two workers pushing the
same object at once write the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from augment.errors import AugmentError

ARTIFACTS_ENV = "AUGMENT_ARTIFACTS"  # "remote": move artifacts through the DVC remote
MODES = ("", "remote")
DIR_SUFFIX = ".dir"
CHUNK = 1 << 20

Refs = dict[str, str]  # {workspace-relative posix path: md5 (file) or md5.dir (folder)}


class ArtifactError(AugmentError):
    """A missing, corrupt or unreachable artifact, or a store that is not configured."""


def mode(environ: dict[str, str] | None = None) -> str:
    """$AUGMENT_ARTIFACTS: "" (one shared disk) or "remote"; another value is an error."""
    value = (os.environ if environ is None else environ).get(ARTIFACTS_ENV, "").strip()
    if value not in MODES:
        raise ArtifactError(f"${ARTIFACTS_ENV} must be empty or 'remote', got {value!r}")
    return value


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def relative(root: Path, path: str | Path) -> str:
    """`path` (absolute under `root`, or relative to it) as a workspace-relative posix path;
    a path outside the workspace is an error."""
    full = (root / path).resolve() if not Path(path).is_absolute() else Path(path).resolve()
    try:
        return full.relative_to(root.resolve()).as_posix()
    except ValueError as err:
        raise ArtifactError(f"{path} is not inside the workspace {root}") from err


@dataclass(frozen=True)
class Store:
    """A content-addressed object store at `url` (a folder or an fsspec URL)."""

    url: str

    @classmethod
    def of_workspace(cls, root: Path) -> Store:
        """The store at the workspace's default DVC remote."""
        done = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], cwd=root,
                              capture_output=True, text=True)
        name = done.stdout.strip()
        if done.returncode != 0 or not name:
            raise ArtifactError(f"${ARTIFACTS_ENV}=remote, but the workspace {root} has no default "
                                "DVC remote (`dvc remote add -d NAME URL`)")
        got = subprocess.run([sys.executable, "-m", "dvc", "config", f"remote.{name}.url"], cwd=root,
                             capture_output=True, text=True)
        url = got.stdout.strip()
        if got.returncode != 0 or not url:
            raise ArtifactError(f"the DVC remote {name!r} of {root} has no url: {got.stderr.strip()}")
        if "://" not in url and not Path(url).is_absolute():
            url = str((root / ".dvc" / url).resolve())  # DVC resolves it from .dvc/
        return cls(url)

    def _fs(self):
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, root.rstrip("/")

    def _object(self, root: str, md5: str) -> str:
        return f"{root}/files/md5/{md5[:2]}/{md5[2:]}"

    def _put(self, fs: Any, root: str, local: Path, md5: str) -> None:
        target = self._object(root, md5)
        if fs.exists(target):
            return
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        partial = f"{target}.{uuid.uuid4().hex}.tmp"
        fs.put_file(str(local), partial)
        fs.mv(partial, target)

    def _get(self, fs: Any, root: str, md5: str, dest: Path) -> None:
        source = self._object(root, md5)
        if not fs.exists(source):
            raise ArtifactError(f"object {md5} is missing from the artifact store {self.url} "
                                "(was the producing task's push lost, or the remote garbage-collected?)")
        fs.get_file(source, str(dest))
        got = md5_file(dest)
        if got != md5.removesuffix(DIR_SUFFIX):
            raise ArtifactError(f"object {md5} in {self.url} is corrupt (its bytes hash to {got})")

    def push(self, root: Path, *paths: str | Path) -> Refs:
        """Store each file or folder (absolute or workspace-relative); {relpath: reference}."""
        fs, base = self._fs()
        refs: Refs = {}
        for path in paths:
            rel = relative(root, path)
            local = root / rel
            if local.is_file():
                refs[rel] = md5_file(local)
                self._put(fs, base, local, refs[rel])
            elif local.is_dir():
                entries = []
                for file in sorted(p for p in local.rglob("*") if p.is_file()):
                    md5 = md5_file(file)
                    self._put(fs, base, file, md5)
                    entries.append({"md5": md5, "relpath": file.relative_to(local).as_posix()})
                listing = json.dumps(entries, sort_keys=True).encode()
                md5 = hashlib.md5(listing, usedforsecurity=False).hexdigest() + DIR_SUFFIX
                with tempfile.NamedTemporaryFile(delete=False) as handle:
                    handle.write(listing)
                try:
                    self._put(fs, base, Path(handle.name), md5)
                finally:
                    os.unlink(handle.name)
                refs[rel] = md5
            else:
                raise ArtifactError(f"cannot push {local}: the task did not write it")
        return refs

    def pull(self, root: Path, refs: Refs) -> list[str]:
        """Make each referenced file or folder in the workspace exactly what the reference
        names, fetching what differs; returns the paths it fetched. A folder is replaced
        as a whole (files not in the listing go), atomically."""
        fs, base = self._fs()
        fetched = []
        for rel, ref in sorted(refs.items()):
            if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts:
                raise ArtifactError(f"artifact path {rel!r} leaves the workspace")
            local = root / rel
            if current(local, ref):
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{local.name}.", dir=local.parent))
            try:
                if not ref.endswith(DIR_SUFFIX):
                    self._get(fs, base, ref, scratch / "file")
                    os.replace(scratch / "file", local)
                else:
                    self._get(fs, base, ref, scratch / "listing")
                    entries = json.loads((scratch / "listing").read_text())
                    tree = scratch / "tree"
                    tree.mkdir()
                    for entry in entries:
                        dest = tree / entry["relpath"]
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        self._get(fs, base, entry["md5"], dest)
                    if local.exists():
                        old = scratch / "old"
                        os.replace(local, old)
                    os.replace(tree, local)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            fetched.append(rel)
        return fetched


def current(local: Path, ref: str) -> bool:
    """Whether the local file or folder already has exactly the referenced content."""
    if not ref.endswith(DIR_SUFFIX):
        return local.is_file() and md5_file(local) == ref
    if not local.is_dir():
        return False
    entries = [{"md5": md5_file(file), "relpath": file.relative_to(local).as_posix()}
               for file in sorted(p for p in local.rglob("*") if p.is_file())]
    listing = json.dumps(entries, sort_keys=True).encode()
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + DIR_SUFFIX == ref
