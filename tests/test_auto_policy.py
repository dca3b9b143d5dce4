"""`sample.policy: auto`: the pipeline, `augment sample --auto` and the library choose the
amount alike (augmenter.select_amount), and publish leaves out rows that did not help."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import tiny_pipeline
from sklearn.datasets import make_classification

from augment.augmenter import REAL_ONLY, Augmenter
from augment.cli import main as cli
from augment.data.storage import read_split
from augment.errors import ConfigError
from augment.generators import load_generator
from augment.publish import load_augmented_folder
from augment.sampling import policy_counts
from augment.workspace import Workspace
from pipelines.params import check_params
from pipelines.prepare import prepare
from pipelines.publish import publish
from pipelines.sample import sample
from pipelines.train import train
from pipelines.validate import run_validation

THINNED_DIGITS = {"digits": {"source": "builtin:digits",
                             "thin": {"classes": [5, 6, 7, 8, 9], "keep": 0.1}}}


def workspace(tmp_path, datasets: dict, steps: int) -> tuple[Workspace, dict]:
    params = tiny_pipeline(datasets, ["vae"])
    params["train"]["vae"] = {"epochs": 1, "min_steps": steps, "batch_size": 64}
    params["sample"] = {"policy": "auto", "seed": 1}
    check_params(params, next(iter(datasets)), ["vae"])
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    ws = Workspace(tmp_path)
    dataset = next(iter(datasets))
    prepare(ws, dataset, params)
    train(ws, dataset, "vae", params)
    return ws, params


def test_the_pipeline_the_cli_and_the_library_choose_alike(tmp_path):
    """Thinned digits, where a VAE's rows clearly help: the sample stage (select_amount),
    the CLI (select_amount) and the Augmenter given the same split and seed score every
    candidate alike and make the same choice, and publish ships the chosen rows."""
    ws, params = workspace(tmp_path / "ws", THINNED_DIGITS, 300)
    message = sample(ws, "digits", "vae", params)
    selection = json.loads(ws.selection("digits", "vae").read_text())
    assert selection["helps"] and f"auto chose {selection['chosen']}" in message
    chosen = next(c for c in selection["candidates"] if c["name"] == selection["chosen"])
    assert chosen["low"] > 0
    deltas = [c["delta"] for c in selection["candidates"]]
    requested = json.loads(ws.requested("digits", "vae").read_text())
    # the Augmenter given the same split scores and chooses alike
    model = load_generator(ws.model("digits", "vae"))
    train_split, val = read_split(ws.split("digits", "train")), read_split(ws.split("digits", "val"))
    X = np.concatenate([train_split.X, val.X])
    y = np.concatenate([train_split.y, val.y])
    n = len(train_split.y)
    aug = Augmenter(generator=model, sampling_strategy="search", seed=1,
                    cv=[(np.arange(n), np.arange(n, len(y)))])
    report = aug.select(X, y)
    assert report.chosen == selection["chosen"] and [c.delta for c in report.candidates] == deltas
    # the CLI on the split files, with the sample seed
    out = tmp_path / "auto.npz"
    assert cli(["sample", "--model", str(ws.model("digits", "vae")), "--auto", "--seed", "1",
                "--real", str(ws.split("digits", "train")), "--holdout", str(ws.split("digits", "val")),
                "--out", str(out)]) == 0
    sidecar = json.loads(out.with_name(out.name + ".selection.json").read_text())
    assert sidecar["chosen"] == selection["chosen"]
    assert [c["delta"] for c in sidecar["candidates"]] == deltas
    assert json.loads(out.with_name(out.name + ".counts.json").read_text()) == requested
    # the gate records the choice; publish ships the chosen rows
    gate = run_validation(ws, "digits", "vae", params)
    assert gate.helps and gate.selection["chosen"] == selection["chosen"]
    assert "Auto policy" in gate.summary()
    publish(ws, "digits", params)
    data = load_augmented_folder(ws.published("digits"))
    assert int(data.synthetic.sum()) == sum(requested.values())
    manifest = json.loads(ws.manifest("digits").read_text())
    assert manifest["generators"] == ["vae"]


def test_rows_that_do_not_help_are_not_published(tmp_path):
    """A table whose validation split cannot show a gain beyond noise: the stage still
    samples the closest amount for the gate, the CLI writes nothing, and publish ships
    the real rows alone, saying why."""
    X, y = make_classification(n_samples=600, n_features=4, n_informative=2, n_redundant=0,
                               n_clusters_per_class=1, weights=[0.95, 0.05], class_sep=1.5,
                               flip_y=0.01, random_state=0)
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(label=y)
    (tmp_path / "ws").mkdir()
    table.to_csv(tmp_path / "ws" / "imb.csv", index=False)
    ws, params = workspace(tmp_path / "ws", {"imb": {"source": str(tmp_path / "ws" / "imb.csv"),
                                                      "target": "label"}}, 300)
    message = sample(ws, "imb", "vae", params)
    selection = json.loads(ws.selection("imb", "vae").read_text())
    assert not selection["helps"] and selection["chosen"] == REAL_ONLY and "not to be published" in message
    closest = next(c for c in selection["candidates"] if c["name"] == selection["best"])
    assert closest["low"] <= 0
    gate = run_validation(ws, "imb", "vae", params)
    assert gate.passed and not gate.helps and "not published" in gate.summary()
    assert "real rows only" in publish(ws, "imb", params)
    data = load_augmented_folder(ws.published("imb"))
    train_split = read_split(ws.split("imb", "train"))
    assert not data.synthetic.any() and len(data.y) == len(train_split.y)
    assert json.loads(ws.manifest("imb").read_text())["generators"] == []
    # the CLI agrees and writes nothing
    train_split.X.assign(label=train_split.y).to_csv(tmp_path / "train.csv", index=False)
    val = read_split(ws.split("imb", "val"))
    val.X.assign(label=val.y).to_csv(tmp_path / "val.csv", index=False)
    out = tmp_path / "rows.csv"
    assert cli(["sample", "--model", str(ws.model("imb", "vae")), "--auto", "--seed", "1",
                "--real", str(tmp_path / "train.csv"), "--holdout", str(tmp_path / "val.csv"),
                "--target", "label", "--out", str(out)]) == 0
    assert not out.exists() and not list(tmp_path.glob("rows.csv*"))


def test_auto_errors_name_the_problem(tmp_path, capsys):
    with pytest.raises(ConfigError, match="auto policy has no fixed counts"):
        policy_counts({"a": 3, "b": 1}, "auto")
    ws, _ = workspace(tmp_path / "ws", {"iris": {"source": "builtin:iris", "target": "target"}}, 20)
    model = str(ws.model("iris", "vae"))
    split = str(ws.split("iris", "train"))
    out = str(tmp_path / "rows.csv")
    errors = [
        (["--auto"], "pass --real .* and --holdout"),
        (["--balance", "--real", split], "pass --auto too"),
        (["--auto", "--real", split, "--holdout", split, "--out", str(tmp_path / "rows.npz")],
         "--out for table samples must end in"),
    ]
    for extra, match in errors:
        argv = ["sample", "--model", model, *extra]
        assert cli(argv if "--out" in extra else [*argv, "--out", out]) == 2
        assert re.search(match, capsys.readouterr().err)
    assert not list(tmp_path.glob("rows*"))
