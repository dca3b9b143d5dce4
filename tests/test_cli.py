"""The `augment` command through a real subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "augment.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_help_and_datasets():
    out = run("--help")
    assert out.returncode == 0 and "inspect" in out.stdout and "datasets" in out.stdout
    out = run("datasets")
    assert out.returncode == 0
    for name in ("builtin:digits", "builtin:breast_cancer", "builtin:iris"):
        assert name in out.stdout


def test_inspect_own_csv(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "label")
    assert out.returncode == 0, out.stderr
    assert "fingerprint" in out.stdout and "colour" in out.stdout and "major" in out.stdout
    assert "categorical" in out.stdout and "integer" in out.stdout
    payload = json.loads(run("inspect", str(mixed_csv), "--target", "label", "--json").stdout)
    assert payload["rows"] == 240 and set(payload["classes"]) == {"major", "minor", "rare"}
    assert {c["name"] for c in payload["schema"]["columns"]} >= {"income", "colour", "flag"}


def test_inspect_drop_and_declare(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "label", "--drop", "income",
              "--declare", "age=categorical", "--json")
    payload = json.loads(out.stdout)
    columns = {c["name"]: c["kind"] for c in payload["schema"]["columns"]}
    assert "income" not in columns and columns["age"] == "categorical"


def test_inspect_images():
    out = run("inspect", "builtin:digits")
    assert out.returncode == 0 and "image" in out.stdout and "(8, 8)" in out.stdout


@pytest.mark.parametrize("args,message", [
    (["inspect", "missing.csv", "--target", "y"], "no such file"),
    (["inspect", "builtin:nope"], "unknown builtin dataset"),
    (["inspect", "pyproject.toml"], "unsupported file type"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_missing_target_column(mixed_csv):
    out = run("inspect", str(mixed_csv), "--target", "nope")
    assert out.returncode == 2 and "target column 'nope' not in" in out.stderr
    out = run("inspect", str(mixed_csv))
    assert out.returncode == 2 and "--target" in out.stderr


def test_fit_sample_validate_table(tmp_path, mixed_csv):
    model = tmp_path / "model"
    out = run("fit", "--data", str(mixed_csv), "--target", "label", "--generator", "vae",
              "--out", str(model), "--set", "epochs=2", "--set", "batch_size=16", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert (model / "weights.safetensors").is_file() and not (model / "checkpoint").exists()
    samples = tmp_path / "syn.csv"
    out = run("sample", "--model", str(model), "--counts", "minor=7,rare=5", "--out", str(samples))
    assert out.returncode == 0, out.stderr
    import pandas as pd

    frame = pd.read_csv(samples)
    assert frame["label"].value_counts().to_dict() == {"minor": 7, "rare": 5}
    assert json.loads((tmp_path / "syn.csv.counts.json").read_text()) == {"minor": 7, "rare": 5}
    out = run("sample", "--model", str(model), "--balance", "--out", str(tmp_path / "bal.parquet"))
    assert out.returncode == 0 and "major: 0" in out.stdout
    report = tmp_path / "report"
    out = run("validate", "--real", str(mixed_csv), "--synthetic", str(samples), "--target", "label",
              "--out", str(report))
    assert out.returncode in (0, 1), out.stderr  # 1 = the gate failed (a 2-epoch model)
    assert ("PASSED" if out.returncode == 0 else "FAILED") in out.stdout
    assert "Data Docs:" in out.stdout and (report / "summary.json").is_file()


def test_fit_sample_images(tmp_path, tiny_images):
    X, y = tiny_images
    data = tmp_path / "imgs.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "model"
    out = run("fit", "--data", str(data), "--generator", "gan", "--out", str(model),
              "--set", "epochs=1", "--set", "batch_size=16")
    assert out.returncode == 0, out.stderr
    out = run("sample", "--model", str(model), "--ratio", "0.5", "--out", str(tmp_path / "s.npz"))
    assert out.returncode == 0, out.stderr
    with np.load(tmp_path / "s.npz") as arrays:
        assert arrays["X"].shape == (30, 8, 8) and arrays["X"].dtype == np.uint8
    assert sorted(p.name for p in tmp_path.glob("s_*.png")) == ["s_0.png", "s_1.png", "s_2.png"]


@pytest.mark.parametrize("args,message", [
    (["fit", "--data", "builtin:iris", "--generator", "nope", "--out", "m"], "unknown generator"),
    (["fit", "--data", "builtin:iris", "--generator", "vae", "--out", "m", "--set", "epochz=1"],
     "unknown parameter vae.epochz"),
    (["sample", "--model", "no-such-model", "--balance", "--out", "s.csv"], "not a saved generator"),
])
def test_fit_sample_bad_input(tmp_path, args, message):
    out = run(*args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "m").exists()


def test_validate_bad_input(tmp_path, mixed_csv):
    out = run("validate", "--real", str(mixed_csv), "--synthetic", str(tmp_path / "none.csv"),
              "--target", "label", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "no such file" in out.stderr
