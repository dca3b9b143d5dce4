"""The prepare stage writes complete splits atomically and leaves nothing on failure."""

from __future__ import annotations

import json

import yaml

from augment.data.storage import read_split
from pipelines import prepare as stage


def write_params(tmp_path, datasets):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets, "prepare": {"seed": 0}}))
    return path


def test_prepare_writes_splits_schema_and_info(tmp_path, mixed_csv):
    write_params(tmp_path, {
        "mixed": {"source": str(mixed_csv), "target": "label"},
        "digits": {"source": "builtin:digits", "thin": {"classes": [5, 6], "keep": 0.1}},
    })
    out = tmp_path / "data" / "prepared"
    assert stage.main(["--workspace", str(tmp_path)]) == 0
    info = json.loads((out / "mixed" / "info.json").read_text())
    assert info["modality"] == "table" and len(info["fingerprint"]) == 64
    train = read_split(out / "mixed" / "train.parquet")
    assert train.schema.target == "label" and "colour" in train.X.columns
    digits = read_split(out / "digits" / "train.npz")
    counts = digits.class_counts()
    assert counts[5] < counts[0] / 5
    assert sorted(p.name for p in out.iterdir()) == ["digits", "mixed"]  # no temp leftovers
    assert stage.main(["--workspace", str(tmp_path), "--dataset", "mixed"]) == 0  # ours: replaced


def test_failure_leaves_no_partial_output(tmp_path, capsys):
    params = write_params(tmp_path, {"bad": {"source": "builtin:iris", "target": "target",
                                             "thin": {"classes": ["nope"], "keep": 0.1}}})
    out = tmp_path / "data" / "prepared"
    assert stage.main(["--workspace", str(tmp_path), "--params", str(params)]) == 2
    assert "unknown classes ['nope']" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_key_in_a_later_section_fails_before_any_work(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({
        "pipeline": {"datasets": ["iris"], "generators": ["vae"]},
        "datasets": {"iris": {"source": "builtin:iris", "target": "target"}},
        "sample": {"policy": "balance", "ratio": 2.0},
    }))
    out = tmp_path / "data"
    assert stage.main(["--workspace", str(tmp_path)]) == 2
    assert "sample: for the balance policy, ratio is the share" in capsys.readouterr().err
    path.write_text(path.read_text().replace("ratio: 2.0", "ratio: 0.5") + "train: {vae: {epochz: 1}}\n")
    assert stage.main(["--workspace", str(tmp_path)]) == 2
    assert "unknown parameter vae.epochz" in capsys.readouterr().err
    assert not out.exists()


def test_prepared_folder_of_other_files_is_not_replaced(tmp_path, capsys):
    write_params(tmp_path, {"iris": {"source": "builtin:iris", "target": "target"}})
    folder = tmp_path / "data" / "prepared" / "iris"
    folder.mkdir(parents=True)
    (folder / "mine.csv").write_text("a\n1\n")
    assert stage.main(["--workspace", str(tmp_path)]) == 2
    assert "files augment did not write" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["mine.csv"]
