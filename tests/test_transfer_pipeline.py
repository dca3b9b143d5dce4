"""Warm starts and pretraining in the pipeline: real git tags, real DVC, tiny models.

A module repository publishes iris-v1 through `dvc repro` + `augment publish`; the tests
then train from it (inside `dvc repro`, and by calling the train stage), with the reasons
a warm start falls back to a cold one, and pretrain on the prepared unlabelled split.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_project, tiny_pipeline, tool_env
from test_dvc_pipeline import run, with_family_defaults, write_params

from augment.data.storage import read_split, read_unlabelled
from augment.errors import ConfigError, DataError
from augment.publish import get_at_revision, latest_version
from augment.workspace import Workspace
from pipelines import prepare as prepare_stage
from pipelines import publish as publish_stage
from pipelines.params import check_params, dataset_params
from pipelines.prepare import prepare
from pipelines.train import train

ROOT = Path(__file__).resolve().parents[1]
IRIS = {"source": "builtin:iris", "target": "target", "per_class": 20}


def params_with(**train) -> dict:
    params = with_family_defaults(tiny_pipeline({"iris": dict(IRIS)}, ["vae"]))
    params["train"].update(train)
    return params


def lineage(repo: Path, generator: str = "vae") -> dict:
    return json.loads((repo / f"models/iris/{generator}/config.json").read_text())["lineage"]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path]:
    """A git+DVC repository (iris, vae) whose first `dvc repro` is published as iris-v1."""
    tmp = tmp_path_factory.mktemp("warm")
    repo = tmp / "project"
    copy_project(repo)
    write_params(repo, params_with())
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"],
                    ["dvc", "remote", "add", "-d", "local", str(tmp / "remote")],
                    ["git", "add", "-A"], ["git", "commit", "-qm", "project"],
                    ["dvc", "repro", "publish@iris"]):  # evaluate and report add nothing here
        run(command, repo, tmp)
    assert lineage(repo) == {"init_from": None, "pretrain": None}
    out = run([sys.executable, "-m", "augment.cli", "publish", "iris"], repo, tmp)
    assert "iris-v1" in out.stdout
    return repo, tmp


@pytest.fixture
def isolated(published, monkeypatch):
    """The repository, with this process's git and DVC kept off the machine's config (for
    stages called in-process) and the repository's params restored afterwards."""
    repo, tmp = published
    for key, value in tool_env(tmp).items():
        monkeypatch.setenv(key, value)
    before = (repo / "params.yaml").read_text()
    yield repo, tmp
    (repo / "params.yaml").write_text(before)


def test_dvc_repro_warm_starts_from_the_published_version(isolated):
    """More rows and warm_start: previous; `dvc repro` fetches iris-v1's model while it holds
    the repository lock, the model's lineage names v1, and so does the manifest the publish
    stage writes next (sample and validate are skipped: the published rows are not the point)."""
    repo, tmp = isolated
    write_params(repo, params_with(warm_start="previous") | {
        "datasets": {"iris": {**IRIS, "per_class": 30}}})
    out = run(["dvc", "repro", "train@iris-vae"], repo, tmp)
    log = out.stdout + out.stderr
    assert "Running stage 'train@iris-vae'" in log
    assert "train iris/vae: warm start from iris-v1" in log and "warm start from a model" in log
    assert "training cold" not in log
    parent = lineage(repo)["init_from"]
    assert parent["version"] == "iris-v1" and parent["family"] == "vae"
    assert parent["mapped"]["classes"]["kept"] == 3
    assert len(read_split(Workspace(repo).split("iris", "train")).y) == 90  # 30 per class
    assert publish_stage.main(["--dataset", "iris", "--workspace", str(repo)]) == 0
    manifest = json.loads((repo / "data/published/iris/manifest.json").read_text())
    assert manifest["parents"] == {"vae": "iris-v1"}


def test_previous_without_a_published_version_trains_cold(tmp_path, monkeypatch, caplog):
    for key, value in tool_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    ws = Workspace(tmp_path / "fresh")
    ws.root.mkdir()
    params = params_with(warm_start="previous")
    prepare(ws, "iris", params)
    caplog.set_level(logging.INFO, logger="augment")
    train(ws, "iris", "vae", params)  # not a repository at all
    assert "is not a git+DVC repository" in caplog.text
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(command, ws.root, tmp_path)
    caplog.clear()
    train(ws, "iris", "vae", params)
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning == ["train iris/vae: iris has no published version (no tag iris-vN) to "
                       "warm-start from; training cold"]
    assert json.loads((ws.model("iris", "vae") / "config.json").read_text())["lineage"][
        "init_from"] is None


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_incompatible_parent_trains_cold_naming_the_difference(isolated, caplog):
    repo, _ = isolated
    tag = latest_version("iris", repo)
    params = params_with(warm_start="previous")
    params["train"]["vae"]["width"] = 64  # the published model has width 128
    caplog.set_level(logging.INFO, logger="augment")
    train(Workspace(repo), "iris", "vae", params)
    [warning] = warnings_of(caplog)
    assert warning.startswith(f"train iris/vae: cannot warm-start from {tag}: ")
    assert "width 128 -> 64" in warning and warning.endswith("training cold")
    assert lineage(repo)["init_from"] is None


def test_tag_without_the_model_or_its_data_trains_cold(isolated, caplog):
    repo, tmp = isolated
    ws, tag = Workspace(repo), latest_version("iris", repo)
    params = params_with(warm_start="previous", gan={"epochs": 1, "min_steps": 0, "batch_size": 16})
    caplog.set_level(logging.INFO, logger="augment")
    train(ws, "iris", "gan", params)  # the published versions hold no gan model
    assert warnings_of(caplog) == [f"train iris/gan: cannot warm-start from {tag}: {tag} does not "
                                   "record models/iris/gan; training cold"]

    cache, remote = repo / ".dvc/cache", tmp / "remote"
    cache.rename(tmp / "cache-away")
    try:  # the cache lacks the data: it comes from the remote
        folder = get_at_revision("models/iris/vae", tmp / "from-remote", repo, tag)
        assert (folder / "weights.safetensors").is_file()
        remote.rename(tmp / "remote-away")
        caplog.clear()
        train(ws, "iris", "vae", params_with(warm_start="previous"))
        [warning] = warnings_of(caplog)
        assert warning.startswith(f"train iris/vae: cannot warm-start from {tag}: the data of "
                                  f"models/iris/vae at {tag} is neither in the DVC cache nor on a "
                                  "remote")
    finally:
        (tmp / "remote-away").rename(remote)
        shutil.rmtree(cache, ignore_errors=True)
        (tmp / "cache-away").rename(cache)


def test_warm_start_values_are_checked():
    with pytest.raises(ConfigError, match=r"train.warm_start must be one of \['previous', 'none'\], "
                                          r"got 'sometimes'"):
        check_params(params_with(warm_start="sometimes"), "iris")
    check_params(params_with(warm_start="previous"), "iris")


def test_bad_warm_start_fails_the_prepare_stage_first(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params_with(warm_start="sometimes")))
    assert prepare_stage.main(["--workspace", str(tmp_path)]) == 2
    assert "train.warm_start must be one of" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_dropped_rows_are_the_unlabelled_split_and_pretrain(tmp_path, caplog):
    ws = Workspace(tmp_path)
    params = params_with()
    params["datasets"]["iris"] = {**IRIS, "per_class": 10, "unlabelled": "dropped"}
    prepare(ws, "iris", params)
    train_split = read_split(ws.split("iris", "train"))
    rows = read_unlabelled(ws.split("iris", "unlabelled"))
    assert list(rows.columns) == list(train_split.X.columns)  # features only, no target
    assert len(rows) == 90 - 30  # the 60 training rows per_class removed
    info = json.loads(ws.dataset_info("iris").read_text())
    assert info["unlabelled"] == {"source": "dropped", "rows": 60}
    caplog.set_level(logging.INFO, logger="augment")
    assert "pretrained on 60 unlabelled rows" in train(ws, "iris", "vae", params)
    pretrain = json.loads((ws.model("iris", "vae") / "config.json").read_text())["lineage"]["pretrain"]
    assert pretrain["rows"] == 60

    del params["datasets"]["iris"]["unlabelled"]  # absent: no split, no pretraining
    prepare(ws, "iris", params)
    assert ws.unlabelled("iris") is None
    train(ws, "iris", "vae", params)
    assert json.loads((ws.model("iris", "vae") / "config.json").read_text())["lineage"][
        "pretrain"] is None


def test_dropped_images_keep_their_shape(tmp_path):
    ws = Workspace(tmp_path)
    params = {"datasets": {"digits": {"source": "builtin:digits", "unlabelled": "dropped",
                                      "thin": {"classes": [5, 6], "keep": 0.5}}}}
    prepare(ws, "digits", params)
    images = read_unlabelled(ws.split("digits", "unlabelled"))
    assert images.shape[1:] == (8, 8) and images.dtype == np.uint8 and len(images) > 0


def test_unlabelled_source_is_checked_against_the_training_split(tmp_path, capsys):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    good = tmp_path / "more.csv"
    frame.drop(columns=["target"]).to_csv(good, index=False)  # a source without the target
    ws = Workspace(tmp_path)
    params = params_with()
    params["datasets"]["iris"]["unlabelled"] = str(good)
    prepare(ws, "iris", params)
    assert len(read_unlabelled(ws.split("iris", "unlabelled"))) == 150

    bad = tmp_path / "other.csv"
    frame.rename(columns={"petal width (cm)": "colour"}).to_csv(bad, index=False)
    params["datasets"]["iris"]["unlabelled"] = str(bad)
    with pytest.raises(DataError, match=r"lacks the column 'petal width \(cm\)' of the training"):
        prepare(ws, "iris", params)
    pd.DataFrame({**frame.drop(columns=["target"]), "sepal length (cm)": "long"}).to_csv(bad,
                                                                                       index=False)
    with pytest.raises(DataError, match=r"column 'sepal length \(cm\)' holds .* but it is "
                                        "continuous"):
        prepare(ws, "iris", params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert prepare_stage.main(["--workspace", str(tmp_path)]) == 2
    assert "datasets.iris.unlabelled" in capsys.readouterr().err
    assert len(read_unlabelled(ws.split("iris", "unlabelled"))) == 150  # the old split stands


def test_dropped_needs_a_scenario():
    params = {"datasets": {"iris": {"source": "builtin:iris", "target": "target",
                                    "unlabelled": "dropped"}}}
    with pytest.raises(ConfigError, match="thin or per_class"):
        dataset_params(params, "iris")
