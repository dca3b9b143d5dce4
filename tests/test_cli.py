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
              "--out", str(model), "--set", "epochs=2", "--set", "min_steps=0", "--set", "batch_size=16",
              "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert (model / "weights.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.csv", "model"]  # no checkpoints left
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
    assert "Data Docs:" in out.stdout and (report / "gate.json").is_file()


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


def corner_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [n, 8, 8] of 3 classes, each a bright square in its own corner."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.integers(0, 40, size=(n, 8, 8)).astype(np.uint8)
    for i, label in enumerate(y):
        r, c = [(0, 0), (0, 4), (4, 0)][label]
        X[i, r : r + 4, c : c + 4] += 200
    return X, y


def test_evaluate_ranks_augmentations(tmp_path):
    train, test = tmp_path / "train.npz", tmp_path / "test.npz"
    X, y = corner_images(30, seed=0)
    np.savez(train, X=X[:14], y=y[:14])  # imbalanced: class 2 has 4 rows
    test_X, test_y = corner_images(90, seed=1)
    np.savez(test, X=test_X, y=test_y)
    good_X, good_y = corner_images(60, seed=2)
    np.savez(tmp_path / "good.npz", X=good_X, y=good_y)
    np.savez(tmp_path / "bad.npz", X=good_X, y=(good_y + 1) % 3)  # every label wrong
    report, plot = tmp_path / "scores.json", tmp_path / "scores.png"
    out = run("evaluate", "--real", str(train), "--test", str(test),
              "--synthetic", f"good={tmp_path / 'good.npz'}", "--synthetic",
              f"bad={tmp_path / 'bad.npz'}", "--classifier", "random_forest", "--seeds", "0", "1",
              "--out", str(report), "--plot", str(plot))
    assert out.returncode == 0, out.stderr
    result = json.loads(report.read_text())
    assert list(result["scores"]) == ["real_only", "smote", "classic", "good", "bad"]
    assert result["counts_added"] == {"0": 20, "1": 20, "2": 20}  # what good.npz added
    f1 = {name: row["random_forest"]["macro_f1"]["mean"] for name, row in result["scores"].items()}
    assert f1["bad"] < f1["real_only"] - 0.3 and f1["good"] >= f1["real_only"]
    assert result["delta_macro_f1"]["bad"]["random_forest"] < -0.3
    assert set(result["scores"]["good"]["random_forest"]["recall"]) == {"0", "1", "2"}
    assert plot.read_bytes()[:4] == b"\x89PNG" and "real_only" in out.stdout


def test_evaluate_bad_input(tmp_path, mixed_csv):
    other = mixed_csv.read_text().replace(",rare\n", ",extra\n")
    (tmp_path / "other.csv").write_text(other)
    images = tmp_path / "imgs.npz"
    np.savez(images, X=np.zeros((6, 8, 8), np.uint8), y=np.array([0, 0, 0, 1, 1, 1]))
    cases = [
        (["--test", str(images)], "is images but the real training data is a table"),
        (["--test", str(mixed_csv), "--classifier", "svm"], "unknown classifier 'svm'"),
        (["--test", str(mixed_csv), "--synthetic", "vae"], "--synthetic expects NAME=PATH"),
        (["--test", str(mixed_csv), "--synthetic", f"smote={mixed_csv}"], "name 'smote' is taken"),
        (["--test", str(mixed_csv), "--counts", "huge=3"], "classes the training data lacks"),
        (["--test", str(tmp_path / "none.csv")], "no such file"),
        (["--test", str(tmp_path / "other.csv")], "has classes the training data lacks: ['extra']"),
    ]
    for extra, message in cases:
        out = run("evaluate", "--real", str(mixed_csv), "--target", "label",
                  "--out", str(tmp_path / "r.json"), *extra)
        assert out.returncode == 2 and message in out.stderr, (extra, out.stderr)
        assert "Traceback" not in out.stderr and not (tmp_path / "r.json").exists()
    out = run("evaluate", "--real", str(mixed_csv), "--test", str(mixed_csv), "--target", "label",
              "--out", str(tmp_path / "r.txt"))
    assert out.returncode == 2 and "--out must be a .json file" in out.stderr


def test_evaluate_table_baselines_only(tmp_path, mixed_csv):
    out = run("evaluate", "--real", str(mixed_csv), "--test", str(mixed_csv), "--target", "label",
              "--classifier", "hist_gradient_boosting", "--seeds", "0",
              "--out", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["scores"]) == ["real_only", "smote"]  # no classic transforms for tables
    counts = result["counts_added"]  # nothing to copy: SMOTENC raises every class to the largest
    assert counts["major"] == 0 and counts["minor"] > 0 and counts["rare"] > counts["minor"]
