"""`augment filter`: the per-row filters on a synthetic file, with and without a model to
refill from. Each test runs in its own folder with its own params file (never the
project's params.yaml), with 5-epoch VAEs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_mixed_table

from augment.cli import main
from augment.data import load_dataset
from augment.data.storage import read_split
from augment.generators import get_generator, load_generator
from augment.validate.metrics import _row_keys

TINY_VAE = {"epochs": 5, "min_steps": 0, "batch_size": 32}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "augment.cli", "filter", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def write_params(folder: Path, filter_section: dict | None = None) -> Path:
    path = folder / "params.yaml"
    params = {"train": {"seed": 0, "vae": TINY_VAE}}
    if filter_section is not None:
        params["filter"] = filter_section
    path.write_text(yaml.safe_dump(params))
    return path


def nudged(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Real rows with every number moved a little: near the real rows, copies of none."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    out["income"] *= rng.uniform(0.9, 1.1, len(out))
    out["bimodal"] += rng.normal(0, 0.3, len(out))
    out["score"] += rng.normal(0, 0.3, len(out))
    return out


def copies_of_real(frame: pd.DataFrame, X: pd.DataFrame) -> np.ndarray:
    """Which rows of `X` [N] exactly repeat a row of `frame` (the real features)."""
    real = set(_row_keys(frame))
    return np.array([key in real for key in _row_keys(X)], dtype=bool)


@pytest.fixture
def real_frame(mixed_csv) -> pd.DataFrame:
    """The mixed table as a frame (features and "label")."""
    return pd.read_csv(mixed_csv)


@pytest.fixture
def real_files(tmp_path, real_frame) -> tuple[Path, Path]:
    """(real.csv: 180 training rows, holdout.csv: the other 60), so copies of any --real row
    are copies of rows the filters call training rows (a 20% cut would hold some out)."""
    real_frame.iloc[:180].to_csv(tmp_path / "real.csv", index=False)
    real_frame.iloc[180:].to_csv(tmp_path / "holdout.csv", index=False)
    return tmp_path / "real.csv", tmp_path / "holdout.csv"


def test_exact_copies_are_dropped(tmp_path, real_files, real_frame):
    """Without --model: the file's rows are filtered, nothing refills; every exact copy of a
    real row goes, and filters.json shows it beside the real row it copies."""
    copies = real_frame.iloc[:10]
    syn = pd.concat([copies, nudged(real_frame.iloc[10:40], seed=1)], ignore_index=True)
    syn.to_csv(tmp_path / "syn.csv", index=False)
    params = write_params(tmp_path, {"anomaly": {"enabled": False}})
    out = run("--real", "real.csv", "--holdout", "holdout.csv", "--synthetic", "syn.csv",
              "--target", "label", "--params", str(params), "--out", "filtered", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("memorisation  threshold ") and "total " in out.stdout

    folder = tmp_path / "filtered"
    kept = read_split(folder / "samples.parquet")
    features = real_frame.iloc[:180].drop(columns=["label"])
    assert not copies_of_real(features, kept.X).any()
    report = json.loads((folder / "filters.json").read_text())
    memo = report["filters"]["memorisation"]
    assert sum(memo["flagged"].values()) >= 10 and report["rounds"] == 0
    assert sum(report["dropped"].values()) == 40 - len(kept)
    assert json.loads((folder / "requested.json").read_text()) == (
        syn["label"].value_counts().sort_index().to_dict())
    assert report["config"] == {"holdout": "--holdout holdout.csv", "refill": "none",
                                "nearest_train_row": "a row of real.csv"}

    dropped = read_split(folder / "dropped.parquet")
    worst = report["worst"]["memorisation"]
    assert len(worst) == 6  # filter.shown: exact copies score -1, the worst there is
    for entry in worst:
        assert entry["score"] == -1.0
        row = dropped.X.iloc[[entry["row"]]]
        nearest = features.iloc[[entry["nearest_train_row"]]]  # a row of --real itself
        assert _row_keys(row) == _row_keys(nearest)


@pytest.fixture(scope="module")
def table_model(tmp_path_factory) -> Path:
    """A 5-epoch VAE of the 180 training rows of `real_files`, saved as `augment fit` saves
    it (a VAE reused as the anomaly model must have been trained on --real)."""
    folder = tmp_path_factory.mktemp("model")
    X, y = make_mixed_table()
    frame = X.copy()
    frame["label"] = y
    frame.iloc[:180].to_csv(folder / "real.csv", index=False)
    ds = load_dataset(folder / "real.csv", target="label")
    model = get_generator("vae", **TINY_VAE, seed=0, progress="never").fit(ds.X, ds.y,
                                                                          schema=ds.schema)
    model.save(folder / "vae")
    return folder / "vae"


def test_model_refills_to_exact_counts(tmp_path, real_files, real_frame, table_model):
    """With --model: the dropped rows are replaced by the model's draws (the VAE is also the
    anomaly model), so every class holds exactly what the sidecar asked for."""
    model = load_generator(table_model)
    X, y = model.sample({"minor": 15, "rare": 10}, seed=0)
    minor = real_frame[real_frame["label"] == "minor"].iloc[:5]  # 5 exact copies
    syn = pd.concat([pd.DataFrame(X).assign(label=y), minor], ignore_index=True)
    syn.to_csv(tmp_path / "syn.csv", index=False)
    requested = {"major": 0, "minor": 20, "rare": 10}
    (tmp_path / "syn.csv.counts.json").write_text(json.dumps(requested))
    params = write_params(tmp_path, {"anomaly": {"enabled": True}})  # and memorisation
    out = run("--real", "real.csv", "--holdout", "holdout.csv", "--synthetic", "syn.csv",
              "--target", "label", "--model", str(table_model), "--seed", "3", "--params",
              str(params), "--out", "filtered", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("threshold") == 2 and "kept 30 of 30 requested" in out.stdout

    folder = tmp_path / "filtered"
    kept = read_split(folder / "samples.parquet")
    assert kept.class_counts() == {"minor": 20, "rare": 10}
    assert not copies_of_real(real_frame.iloc[:180].drop(columns=["label"]), kept.X).any()
    report = json.loads((folder / "filters.json").read_text())
    assert report["rounds"] >= 1 and report["requested"] == requested
    assert sum(report["filters"]["memorisation"]["flagged"].values()) >= 5
    assert report["config"]["anomaly_model"] == "the --model VAE"
    assert 0.9 <= report["filters"]["anomaly"]["holdout_pass"] <= 1.0
    assert json.loads((folder / "requested.json").read_text()) == requested


def test_images_with_a_cut_holdout(tmp_path, tiny_images):
    """Images without --holdout: 20% of --real is cut to calibrate on (with a warning), the
    anomaly VAE is trained on the rest (no --model), and the kept and dropped images are
    written as .npz."""
    X, y = tiny_images
    np.savez(tmp_path / "real.npz", X=X, y=y)
    rng = np.random.default_rng(5)
    new = np.clip(X[1::2].astype(int) + rng.integers(-20, 21, X[1::2].shape), 0, 255)
    syn_X = np.concatenate([X[:8:2], new.astype(np.uint8)])  # 4 copies of real images
    np.savez(tmp_path / "syn.npz", X=syn_X, y=np.concatenate([y[:8:2], y[1::2]]))
    params = write_params(tmp_path, {"anomaly": {"enabled": True}})
    out = run("--real", "real.npz", "--synthetic", "syn.npz", "--params", str(params),
              "--out", "filtered", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "WARNING: no --holdout given" in out.stderr
    folder = tmp_path / "filtered"
    report = json.loads((folder / "filters.json").read_text())
    assert list(report["filters"]) == ["anomaly", "memorisation"]
    assert report["config"]["anomaly_model"] == "a VAE trained on --real"
    assert report["config"]["holdout"] == "20% cut from --real (no --holdout given)"
    with np.load(folder / "samples.npz") as kept:
        assert kept["X"].shape[1:] == (8, 8) and kept["X"].dtype == np.uint8
        assert len(kept["y"]) == 34 - sum(report["dropped"].values())
    if sum(report["dropped"].values()):
        with np.load(folder / "dropped.npz") as dropped:
            shown = [entry["row"] for rows in report["worst"].values() for entry in rows]
            assert sorted(shown) == list(range(len(dropped["y"])))  # each filter's worst rows


def fail(capsys, *args: str) -> str:
    """Run `augment filter` in this process; it must exit 2. Returns stderr."""
    assert main(["filter", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") <= 2  # the note on the params file + the error
    return err


def test_bad_params_are_refused_before_any_work(tmp_path, mixed_csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--real", str(mixed_csv), "--synthetic", str(mixed_csv), "--target", "label",
              "--out", "filtered"]
    params = write_params(tmp_path, {"anomaly": {"qq": 0.5}})
    err = fail(capsys, *common, "--params", str(params))
    assert f"{params}: unknown parameter filter.anomaly.qq" in err
    params = write_params(tmp_path, {"anomaly": {"enabled": False}, "memorisation": {"enabled": False}})
    err = fail(capsys, *common, "--params", str(params))
    assert f"nothing to do: every filter is off in {params}" in err
    assert not (tmp_path / "filtered").exists()


def test_bad_input_is_one_line(tmp_path, mixed_csv, tiny_images, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)  # ./params.yaml, followed when no --params is given
    X, y = tiny_images
    np.savez(tmp_path / "imgs.npz", X=X, y=y)
    frame = pd.read_csv(mixed_csv)
    frame.assign(extra=1.0).to_csv(tmp_path / "wide.csv", index=False)
    frame.replace({"label": {"rare": "other"}}).to_csv(tmp_path / "other.csv", index=False)
    (tmp_path / "no_model").mkdir()
    real = ["--real", str(mixed_csv), "--target", "label"]
    cases = [
        ([*real, "--synthetic", "none.csv"], "no such file"),
        ([*real, "--synthetic", "imgs.npz"], "is images but the real training data is a table"),
        ([*real, "--synthetic", "wide.csv"], "has columns the real training data lacks: ['extra']"),
        ([*real, "--synthetic", "other.csv"], "has classes the training data lacks: ['other']"),
        ([*real, "--synthetic", str(mixed_csv), "--model", "no_model"], "not a saved generator"),
    ]
    for args, message in cases:
        assert message in fail(capsys, *args, "--out", "filtered"), args
    assert not (tmp_path / "filtered").exists()


def test_model_lacking_a_class_is_refused(tmp_path, tiny_images, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    X, y = tiny_images
    np.savez(tmp_path / "real.npz", X=X, y=y)
    two = y < 2
    get_generator("vae", epochs=1, min_steps=0, progress="never").fit(X[two], y[two]).save(
        tmp_path / "vae01")
    err = fail(capsys, "--real", "real.npz", "--synthetic", "real.npz", "--model", "vae01",
               "--out", "filtered")
    assert "--synthetic has classes --model vae01 lacks: ['2']" in err
    assert not (tmp_path / "filtered").exists()


def test_foreign_out_is_refused(tmp_path, mixed_csv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    (tmp_path / "filtered").mkdir()
    (tmp_path / "filtered" / "mine.txt").write_text("not augment's")
    err = fail(capsys, "--real", str(mixed_csv), "--synthetic", str(mixed_csv), "--target",
               "label", "--out", "filtered")
    assert "files augment did not write" in err
    assert sorted(p.name for p in (tmp_path / "filtered").iterdir()) == ["mine.txt"]
