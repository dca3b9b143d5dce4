"""pipelines/artifacts.py: the content-addressed store DAG tasks move their files through
when workers share no disk ($AUGMENT_ARTIFACTS=remote)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.artifacts import ArtifactError, Store, md5_file, mode


def test_push_then_pull_on_another_clone(tmp_path):
    a, b, remote = tmp_path / "a", tmp_path / "b", tmp_path / "remote"
    (a / "models/x").mkdir(parents=True)
    (a / "models/x/weights.bin").write_bytes(b"\x00\x01" * 1000)
    (a / "models/x/sub").mkdir()
    (a / "models/x/sub/config.json").write_text("{}")
    (a / "metrics.json").write_text('{"f1": 0.9}')
    store = Store(str(remote))
    refs = store.push(a, a / "models/x", "metrics.json")
    assert refs["models/x"].endswith(".dir") and refs["metrics.json"] == md5_file(a / "metrics.json")
    # DVC 3's object layout: files/md5/<2 hex>/<30 hex>
    assert (remote / "files/md5" / refs["metrics.json"][:2] / refs["metrics.json"][2:]).is_file()

    (b / "models/x").mkdir(parents=True)
    (b / "models/x/stale.txt").write_text("from an older run")
    assert sorted(store.pull(b, refs)) == ["metrics.json", "models/x"]
    assert (b / "models/x/weights.bin").read_bytes() == (a / "models/x/weights.bin").read_bytes()
    assert (b / "models/x/sub/config.json").read_text() == "{}"
    assert not (b / "models/x/stale.txt").exists()  # the folder is the referenced one, whole
    assert store.pull(b, refs) == []  # already current: nothing fetched
    assert [p.name for p in b.iterdir() if p.name.startswith(".")] == []  # no scratch left


def test_corrupt_or_missing_objects_are_errors(tmp_path):
    a, remote = tmp_path / "a", tmp_path / "remote"
    a.mkdir()
    (a / "f.txt").write_text("real")
    store = Store(str(remote))
    refs = store.push(a, "f.txt")
    obj = remote / "files/md5" / refs["f.txt"][:2] / refs["f.txt"][2:]
    obj.write_text("tampered")
    with pytest.raises(ArtifactError, match="corrupt"):
        store.pull(tmp_path / "b", refs)
    obj.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        store.pull(tmp_path / "b", refs)
    with pytest.raises(ArtifactError, match="leaves the workspace"):
        store.pull(tmp_path / "b", {"../outside": refs["f.txt"]})
    with pytest.raises(ArtifactError, match="did not write"):
        store.push(a, "absent.txt")
    assert not (tmp_path / "b" / "f.txt").exists() and not (tmp_path / "outside").exists()


def test_store_is_the_default_dvc_remote(tmp_path, monkeypatch):
    from conftest import tool_env

    for key, value in tool_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    repo = tmp_path / "repo"
    repo.mkdir()
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=repo, check=True, capture_output=True)
    with pytest.raises(ArtifactError, match="no default DVC remote"):
        Store.of_workspace(repo)
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-d", "s", str(tmp_path / "r")],
                   cwd=repo, check=True, capture_output=True)
    assert Store.of_workspace(repo).url == str(tmp_path / "r")
    assert mode({"AUGMENT_ARTIFACTS": "remote"}) == "remote" and mode({}) == ""
    with pytest.raises(ArtifactError, match="AUGMENT_ARTIFACTS"):
        mode({"AUGMENT_ARTIFACTS": "nfs"})
