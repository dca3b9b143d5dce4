"""The workspace owns every path; outputs never clobber what augment did not write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from augment.cli import main as cli
from augment.errors import AugmentError, ConfigError, OutputExistsError
from augment.io import MARKER, atomic_dir, atomic_file, check_writable, clean_stale
from augment.validate.verdict import Check, GateReport, select
from augment.workspace import Workspace, check_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["../../x", "..", "/abs", "", "a/b", ".hidden", "a..b", "a b",
                                  "x\\y", "-rf", "~user", 3])
def test_unsafe_names_are_clear_errors(name):
    with pytest.raises(ConfigError, match="not allowed|must be a string"):
        check_name(name, "dataset")
    with pytest.raises(ConfigError):
        Workspace("/tmp/ws").model(name, "vae")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "adult-2024", "v1.2", "A9"])
def test_safe_names_stay_inside_the_root(tmp_path, name):
    ws = Workspace(tmp_path)
    paths = [ws.prepared(name), ws.model(name, "vae"), ws.checkpoints(name, "gan"),
             ws.synthetic(name, "diffusion"), ws.gate(name, "vae"), ws.gate_metrics(name, "vae"),
             ws.published(name), ws.downstream(name), ws.downstream_plot(name), ws.report_page(name),
             ws.run_params(name, "manual__2026-01-01T00:00:00+00:00")]
    for path in paths:
        assert path.resolve().is_relative_to(tmp_path.resolve()), path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dataset_name_cannot_reach_outside_the_workspace(tmp_path, capsys):
    from pipelines.prepare import main as prepare_main

    ws, outside = tmp_path / "ws", tmp_path / "x"
    (ws / "data").mkdir(parents=True)
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    params = {"datasets": {"../../x": {"source": "builtin:iris", "target": "target"}}}
    (ws / "params.yaml").write_text(yaml.safe_dump(params))
    before = _tree(tmp_path)
    assert prepare_main(["--workspace", str(ws)]) == 2
    assert "'../../x' is not allowed" in capsys.readouterr().err
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in (ws / "data").iterdir()) == []


def test_atomic_dir_refuses_foreign_folders_and_files(tmp_path):
    foreign = tmp_path / "models"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="files augment did not write"), atomic_dir(foreign, "model"):
        pytest.fail("the block must not run")
    assert (foreign / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputExistsError, match="is a file"):
        check_writable(a_file, "model")
    with atomic_dir(tmp_path / "gate", "gate") as tmp:  # new folder: fine
        (tmp / "a").write_text("1")
    with pytest.raises(OutputExistsError, match="a gate folder written by augment"):
        check_writable(tmp_path / "gate", "model")  # another kind is refused too
    with atomic_dir(tmp_path / "gate", "gate") as tmp:  # same kind: replaced
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in (tmp_path / "gate").iterdir()) == [MARKER, "b"]
    with atomic_dir(foreign, "model", force=True) as tmp:  # --force
        (tmp / "w").write_text("w")
    assert not (foreign / "notes.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no strays


def test_failed_block_leaves_the_old_artifact(tmp_path):
    with atomic_dir(tmp_path / "out", "synthetic") as tmp:
        (tmp / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "out", "synthetic") as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert (tmp_path / "out" / "old.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from augment.io import atomic_dir, atomic_file
    with atomic_file(sys.argv[1] + "/file.json") as tmp:
        tmp.write_text("half")
        with atomic_dir(sys.argv[1] + "/folder", "model") as folder:
            (folder / "half").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
""")


def test_strays_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=ROOT)
    assert done.returncode == -signal.SIGKILL
    strays = sorted(p.name for p in tmp_path.iterdir())
    assert len(strays) == 2 and all(".tmp-" in name for name in strays), strays
    with atomic_dir(tmp_path / "folder", "model") as folder:
        (folder / "whole").write_text("whole")
    with atomic_file(tmp_path / "file.json") as tmp:
        tmp.write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.json", "folder"]


def test_stale_cleanup_spares_live_writers(tmp_path):
    live = tmp_path / f".out.tmp-{os.getppid()}-abc"
    live.mkdir()
    dead = tmp_path / ".out.tmp-999999999-abc"
    dead.mkdir()
    assert clean_stale(tmp_path / "out") == [dead]
    assert live.exists() and not dead.exists()


def test_cli_fit_refuses_a_folder_of_other_files(tmp_path, mixed_csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    models = tmp_path / "models"
    models.mkdir()
    (models / "keep.txt").write_text("mine")
    args = ["fit", "--data", str(mixed_csv), "--target", "label", "--generator", "vae",
            "--out", str(models), "--set", "epochs=1", "--set", "min_steps=0"]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert "files augment did not write" in err and str(models) in err
    assert _tree(models) == {"keep.txt": b"mine"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.csv", "models"]
    model = tmp_path / "model"
    assert cli([*args[:-5], str(model), *args[-4:]]) == 0
    assert cli([*args[:-5], str(model), *args[-4:]]) == 0  # its own model folder: replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.csv", "model", "models"]
    assert cli([*args, "--force"]) == 0
    assert not (models / "keep.txt").exists()


def test_cli_validate_and_sample_refuse_foreign_outputs(tmp_path, mixed_csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "report"
    report.mkdir()
    (report / "keep.txt").write_text("mine")
    code = cli(["validate", "--real", str(mixed_csv), "--synthetic", str(mixed_csv),
                "--target", "label", "--out", str(report)])
    assert code == 2 and "files augment did not write" in capsys.readouterr().err
    assert _tree(report) == {"keep.txt": b"mine"}
    model = tmp_path / "model"
    assert cli(["fit", "--data", str(mixed_csv), "--target", "label", "--generator", "vae",
                "--out", str(model), "--set", "epochs=1", "--set", "min_steps=0"]) == 0
    existing = tmp_path / "mine.csv"
    existing.write_text("a,b\n1,2\n")
    sample = ["sample", "--model", str(model), "--ratio", "0.5", "--out", str(existing)]
    assert cli(sample) == 2 and "already exists" in capsys.readouterr().err
    assert existing.read_text() == "a,b\n1,2\n"
    ours = tmp_path / "samples.csv"
    sample[-1] = str(ours)
    assert cli(sample) == 0 and cli(sample) == 0  # a file with our sidecar is ours to replace


def test_cli_validate_warns_when_it_cuts_a_holdout(tmp_path, mixed_csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli(["validate", "--real", str(mixed_csv), "--synthetic", str(mixed_csv),
                "--target", "label", "--out", str(tmp_path / "r")])
    assert code in (0, 1)
    assert "WARNING: no --holdout given" in capsys.readouterr().err
    assert GateReport.load(tmp_path / "r").holdout.startswith("20% cut from --real")


def test_cli_follows_params_yaml(tmp_path, mixed_csv, capsys, monkeypatch):
    """Thresholds of validate and hyperparameters of fit come from ./params.yaml or --params."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "train": {"seed": 3, "vae": {"epochs": 1, "min_steps": 0, "batch_size": 16}},
        "validate": {"max_detection_auc": 0.123}}))
    assert cli(["fit", "--data", str(mixed_csv), "--target", "label", "--generator", "vae",
                "--out", "m"]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "following params.yaml" in capsys.readouterr().err
    assert json.dumps(config).count('"batch_size": 16') >= 1 and '"seed": 3' in json.dumps(config)
    cli(["validate", "--real", str(mixed_csv), "--synthetic", str(mixed_csv), "--holdout",
         str(mixed_csv), "--target", "label", "--out", "r"])
    assert GateReport.load(tmp_path / "r").check("detection_auc").threshold == 0.123
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"validate": {"max_detection_auc": 0.5}}))
    cli(["validate", "--real", str(mixed_csv), "--synthetic", str(mixed_csv), "--holdout",
         str(mixed_csv), "--target", "label", "--out", "r", "--params", str(other)])
    assert GateReport.load(tmp_path / "r").check("detection_auc").threshold == 0.5


def _report(passed: bool, f1: float, tmp: Path | None = None) -> GateReport:
    checks = (Check("expectations", "suite", 0, 0, True, "all passed"),
              Check("utility", "change", -0.5 if not passed else 0.01, -0.02, passed,
                    "augmenting lowers validation macro-F1" if not passed else "ok"))
    return GateReport(checks, rows=10, requested={"a": 10}, expectations={"evaluated": 3, "failed": 0},
                      metrics={"utility": {"augmented_macro_f1": f1}}, data_docs="gx/index.html",
                      config={}, folder=tmp)


def test_gate_report_round_trip_and_select(tmp_path):
    report = _report(True, 0.8)
    report.save(tmp_path)
    loaded = GateReport.load(tmp_path)
    assert loaded == report and loaded.passed and loaded.folder == tmp_path
    assert loaded.figures()["utility.augmented_macro_f1"] == 0.8
    reports = {"vae": _report(True, 0.7), "gan": _report(True, 0.9), "diffusion": _report(False, 0.95)}
    assert select(reports, "best").chosen == ["gan"]
    assert select(reports, "all").chosen == ["vae", "gan"]
    with pytest.raises(AugmentError, match="require_all.*\n.*diffusion: augmenting lowers"):
        select(reports, "best", require_all=True)
    with pytest.raises(AugmentError, match="no generator passed"):
        select({"vae": _report(False, 0.1)}, "best")
    (tmp_path / "gate.json").write_text("{}")
    with pytest.raises(AugmentError, match="is not a gate report"):
        GateReport.load(tmp_path)


def test_folders_written_before_the_marker_are_still_ours(tmp_path):
    old_model = tmp_path / "model"
    old_model.mkdir()
    (old_model / "config.json").write_text('{"format": "augment-generator"}')
    check_writable(old_model, "model")
    with pytest.raises(OutputExistsError):
        check_writable(old_model, "gate")
    lookalike = tmp_path / "other"
    lookalike.mkdir()
    (lookalike / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(OutputExistsError):
        check_writable(lookalike, "model")
