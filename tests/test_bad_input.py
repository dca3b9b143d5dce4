"""Bad input never crashes and never slips through (issue #13).

A table-driven catalogue of odd inputs thrown at every entry point: the `augment` CLI
(in-process through `augment.cli.main`, plus a few real subprocesses so that we know no
traceback reaches a terminal), the pipeline stages (`pipelines.<stage>.main(argv)`), the
library, and the DAG's parameter checks (`dags/augment_params.run_params` +
`pipelines.params.check_params`, without Airflow).

Every case asserts
- the exit status (2 for a user error) or the exception type (an `AugmentError` subclass),
- that the message names the problem (the column, key, class, value or file),
- that no "Traceback" reaches stderr,
- that nothing was created or changed: the case's folder and the shared inputs are
  snapshotted (paths, sizes, mtimes, bytes) before and after.

A few cases are inputs that must keep working (a declared mixed column, a dropped
all-missing column, a 5 MB cell printed short): they expect status 0 and still write
nothing. The comment above each group says what the inputs gave before the issue was
fixed, and each case's `before` field records it: "traceback", "silent" (accepted
without a word, or a flood of output), "vague" (an error whose message did not name the
problem), "refused" (a valid input was an error) or "handled" (already a clear error;
kept so that it stays one). These were measured by running this file against commit
22ed569, before the fixes of issue #13.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from augment.data import (
    TableSchema,
    infer_schema,
    load_dataset,
    make_dataset,
    stratified_split,
)
from augment.data.storage import read_split
from augment.errors import AugmentError, ConfigError, DataError, ModelError, OutputExistsError
from augment.generators import get_generator, load_generator
from augment.publish import load_augmented
from augment.sampling import policy_counts
from augment.validate.gate import LabelledData, run_gate
from pipelines.params import check_params

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "dags"))
from augment_params import run_params  # noqa: E402
from conftest import LENIENT_GATE  # noqa: E402

AUGMENT = Path(sys.executable).parent / "augment"
FIT = ["--generator", "vae", "--set", "epochs=1", "--set", "min_steps=0", "--set", "batch_size=16",
       "--set", "progress=never"]
TINY = {"epochs": 1, "min_steps": 0, "batch_size": 16, "progress": "never"}

# ---- inputs -----------------------------------------------------------------------------
INF_CSV = "a,b,label\n1,inf,x\n2,3,y\n3,-inf,x\n4,5,y\n"
MIXED_CSV = "a,b,label\n1,1.5,x\n2,2.0,y\n3,hello,x\n4,5,y\n"
DUP_CSV = "x,x,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n"
NAN_COL_CSV = "a,b,label\n1,,x\n2,,y\n3,,x\n4,,y\n"
NAN_TARGET_CSV = "a,b,label\n1,2,\n2,3,\n3,4,\n4,5,\n"
ONE_CLASS_CSV = "a,b,label\n1,2,x\n2,3,x\n3,4,x\n"
ONE_ROW_PER_CLASS_CSV = "a,b,label\n1,2,x\n2,3,y\n"
TARGET_ONLY_CSV = "label\nx\ny\nx\ny\n"
FIVE_ROWS_CSV = "a,b,label\n1,2,x\n2,3,y\n3,4,x\n4,5,y\n5,6,x\n"


def grow(table: str, times: int = 3) -> str:
    """`table` with its rows repeated: enough rows per class for a train/val/test split."""
    header, *rows = table.splitlines()
    return "\n".join([header, *rows * times]) + "\n"


def good_frame(n: int = 40) -> pd.DataFrame:
    """n rows: a float, an integer and a text column, labels x / y alternating."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": np.round(rng.normal(size=n), 3), "b": rng.integers(0, 5, n),
                         "c": rng.choice(["p", "q", "r"], n), "label": (["x", "y"] * n)[:n]})


def write(folder: Path, name: str, content: str | bytes) -> str:
    """Write `content` to `folder`/`name`; returns `name` (relative to the case folder)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return name


def files(folder: Path, contents: dict[str, str | bytes], argv: list) -> list:
    """Write `contents` ({relative path: text or bytes}) under `folder`, then return `argv`."""
    for name, content in contents.items():
        write(folder, name, content)
    return argv


def pipeline_params(source: str) -> dict:
    """params.yaml of a one-dataset ("t"), one-generator (vae) workspace, 1-epoch models."""
    return {
        "pipeline": {"datasets": ["t"], "generators": ["vae"]},
        "datasets": {"t": {"source": source, "target": "label"}},
        "prepare": {"val": 0.2, "test": 0.2, "seed": 0},
        "train": {"seed": 0, "vae": dict(TINY)},
        "sample": {"policy": "ratio", "ratio": 0.5, "seed": 1},
        "filter": {"anomaly": {"enabled": False}, "memorisation": {"enabled": False}},
        "validate": json.loads(json.dumps(LENIENT_GATE)),
        "publish": {"select": "best"},
        "evaluate": {"seeds": [0], "table_classifiers": ["random_forest"],
                     "image_classifiers": ["random_forest"]},
    }


@dataclass
class Shared:
    """Inputs every case may read and none may change (snapshotted around each case)."""

    root: Path
    good_csv: Path
    model: Path  # a fitted 1-epoch vae on good.csv
    syn_csv: Path  # 10 rows sampled from it
    ws: Path  # a workspace after prepare, train and sample of dataset "t" with vae
    generator: Any  # the fitted vae (in memory)
    unfitted: Any

    def params(self) -> dict:
        return pipeline_params(str(self.good_csv))


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Shared:
    from pipelines import prepare, sample, train

    root = tmp_path_factory.mktemp("shared")
    good = root / "good.csv"
    good_frame().to_csv(good, index=False)
    ds = load_dataset(str(good), target="label")
    gen = get_generator("vae", **TINY).fit(ds.X, ds.y, schema=ds.schema)
    gen.save(root / "model")
    X, y = gen.sample({"x": 5, "y": 5}, seed=0)
    X.assign(label=y).to_csv(root / "syn.csv", index=False)
    ws = root / "ws"
    ws.mkdir()
    (ws / "params.yaml").write_text(yaml.safe_dump(pipeline_params(str(good))))
    stage = ["--dataset", "t", "--generator", "vae", "--workspace", str(ws)]
    assert prepare.main(["--workspace", str(ws)]) == 0
    assert train.main(stage) == 0
    assert sample.main(stage) == 0
    return Shared(root, good, root / "model", root / "syn.csv", ws, gen, get_generator("vae"))


@pytest.fixture(scope="module", autouse=True)
def quiet_logs():
    """Stage logs go to pytest's capture, never to a stream a later test closed."""
    import logging

    logger = logging.getLogger("augment")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


# ---- the catalogue ----------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One odd input.

    kind: "cli" (augment.cli.main in-process), "proc" (a real subprocess), "stage"
        (pipelines.<stage>.main in-process; build returns (stage, argv)) or "lib" (build
        returns a callable).
    build: makes the inputs in the case's folder (the current folder) and returns the
        argv / callable; runs before the "before" snapshot.
    expect: the exit status, or the AugmentError subclass the call must raise, or None
        for a library call that must succeed.
    needles: substrings the error message (stdout for status 0) must hold.
    before: what the input gave before issue #13 (see the module docstring).
    check: an extra check of stdout (status 0) or of the library call's result.
    """

    id: str
    kind: str
    build: Callable[[Path, Shared], Any]
    expect: int | type[BaseException] | None
    needles: tuple[str, ...]
    before: str
    check: Callable[[Any], None] | None = None


CASES: list[Case] = []


def case(id: str, kind: str, build, expect, *needles: str, before: str, check=None) -> None:
    CASES.append(Case(id, kind, build, expect, needles, before, check))


def copy_model(t: Path, s: Shared, edit: Callable[[Path], None]) -> str:
    model = t / "model"
    shutil.copytree(s.model, model)
    edit(model)
    return "model"


def drop_info(model: Path) -> None:
    config = json.loads((model / "config.json").read_text())
    del config["info"]
    (model / "config.json").write_text(json.dumps(config))


def stage_ws(t: Path, s: Shared, edit: Callable[[dict], None] | None = None, copy: bool = True,
             raw: str | None = None) -> str:
    """A workspace in the case folder: a copy of the shared one (or an empty one) whose
    params.yaml is `edit`ed (or replaced by the text `raw`)."""
    ws = t / "ws"
    if copy:
        shutil.copytree(s.ws, ws)
    else:
        ws.mkdir()
    params = s.params()
    if edit:
        edit(params)
    (ws / "params.yaml").write_text(raw if raw is not None else yaml.safe_dump(params))
    return str(ws)


def stage(name: str, *extra: str, gen: bool = True, before_files: dict | None = None,
          remove: str | None = None, **ws_args) -> Callable:
    """A stage run on a workspace of the case folder (see stage_ws), with `before_files`
    written into it and the folder `remove` removed from it first."""
    def build(t: Path, s: Shared):
        argv = ["--workspace", stage_ws(t, s, **ws_args)]
        files(t, before_files or {}, [])
        if remove:
            shutil.rmtree(t / remove)
        if name != "prepare":
            argv += ["--dataset", "t"] + (["--generator", "vae"] if gen else [])
        return name, [*argv, *extra]
    return build


def setting(path: str, value: Any) -> Callable[[dict], None]:
    """An edit of params: the dotted key `path` set to `value`."""
    def edit(params: dict) -> None:
        *parents, last = path.split(".")
        node = params
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return edit


def big_cell_csv(t: Path) -> str:
    frame = good_frame(8)
    frame["c"] = ["p", "q"] * 3 + ["z" * 5_000_000, "q"]
    frame.to_csv(t / "big.csv", index=False)
    return "big.csv"


def short_output(limit: int = 4000) -> Callable[[str], None]:
    def check(stdout: str) -> None:
        assert len(stdout) < limit, f"{len(stdout)} characters printed"
        assert "..." in stdout
    return check


def short_json(stdout: str) -> None:
    payload = json.loads(stdout)
    assert len(stdout) < 4000 and payload["truncated"]["values"] >= 1
    assert any(str(v).endswith("...") for c in payload["schema"]["columns"]
               for v in c.get("categories") or [])


def image_folder(t: Path, classes: dict[str, int]) -> str:
    from PIL import Image

    for label, count in classes.items():
        (t / "imgs" / label).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(t / "imgs" / label / f"{i}.png")
    (t / "imgs" / "empty").mkdir(parents=True, exist_ok=True)
    (t / "imgs" / "empty" / "README.txt").write_text("no images here")
    return "imgs"


def npz(t: Path, name: str, **arrays) -> str:
    np.savez(t / name, **arrays)
    return name


def parquet_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    good_frame(8).to_parquet(buffer)
    data = buffer.getvalue()
    return data[:40] + b"\x00" * 64 + data[104:]  # header and footer kept, pages broken


# -- augment inspect / fit: the data layer ----------------------------------------------
# Silent before: inf cells (inspect), a mixed number/text column, duplicated header names
# (pandas renamed them `x.1`), --drop of every feature (inspect printed no columns), NaN
# images ("nan..nan"), an empty class folder (dropped). Tracebacks: inf in fit (sklearn
# "Input X contains infinity"), every feature dropped in fit (IndexError), names equal
# once stripped, text or 2-D arrays in an .npz. Vague: empty file, header only / target
# only / all-missing target (no column named), an empty --data (read "." as images).
# Refused: an all-missing column could not be removed with --drop.
def inspect(name: str, content: str | bytes, *extra: str) -> Callable:
    return lambda t, s: ["inspect", write(t, name, content), *extra]


def fit(name: str, content: str | bytes, *extra: str) -> Callable:
    return lambda t, s: ["fit", "--data", write(t, name, content), "--out", "m", *FIT, *extra]


TARGET = ("--target", "label")
case("inspect-inf", "cli", inspect("inf.csv", INF_CSV, *TARGET), 2, "'b'", "2 of 4 rows",
     "infinite", before="silent")
case("fit-inf", "cli", fit("inf.csv", INF_CSV, *TARGET), 2, "'b'", "infinite",
     "--declare b=categorical", before="traceback")
case("inspect-inf-declared", "cli", inspect("inf.csv", INF_CSV, *TARGET, "--declare",
     "b=categorical"), 0, "categorical", "inf", before="handled")
case("inspect-mixed", "cli", inspect("mixed.csv", MIXED_CSV, *TARGET), 2, "'b'",
     "mixes numbers and text", "'1.5'", "'hello'", before="silent")
case("fit-mixed", "cli", fit("mixed.csv", MIXED_CSV, *TARGET), 2, "'b'", "'hello'",
     before="silent")
case("inspect-mixed-declared", "cli", inspect("mixed.csv", MIXED_CSV, *TARGET, "--declare",
     "b=categorical"), 0, "categorical", "hello", before="handled")
case("inspect-declare-continuous-on-text", "cli", inspect("mixed.csv", MIXED_CSV, *TARGET,
     "--declare", "b=continuous"), 2, "'b'", "cannot be declared continuous", "'hello'",
     before="vague")
case("inspect-duplicate-columns", "cli", inspect("dup.csv", DUP_CSV, *TARGET), 2, "'x'",
     "duplicated", before="silent")
case("fit-duplicate-columns", "cli", fit("dup.csv", DUP_CSV, *TARGET), 2, "'x'", "duplicated",
     before="silent")
case("inspect-duplicate-after-strip", "cli", inspect(
     "dup2.csv", "x, x ,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n", *TARGET), 2, "'x'", "duplicated",
     before="traceback")
case("inspect-drop-every-feature", "cli", inspect("mixed.csv", MIXED_CSV, *TARGET, "--drop", "a",
     "--drop", "b"), 2, "no feature columns left", "'a'", "'b'", before="silent")
case("fit-drop-every-feature", "cli", fit("mixed.csv", MIXED_CSV, *TARGET, "--drop", "a",
     "--drop", "b"), 2, "no feature columns left", "'a'", before="traceback")
case("inspect-target-only", "cli", inspect("t.csv", TARGET_ONLY_CSV, *TARGET), 2,
     "no feature columns", "'label'", before="vague")
case("inspect-empty-file", "cli", inspect("e.csv", "", *TARGET), 2, "e.csv", "empty",
     before="vague")
case("inspect-header-only", "cli", inspect("h.csv", "a,b,label\n", *TARGET), 2, "h.csv",
     "no rows", before="handled")
case("inspect-wrong-file-type", "cli", inspect("d.xlsx", "x"), 2, "unsupported file type '.xlsx'",
     before="handled")
case("inspect-binary-csv", "cli", inspect("b.csv", bytes(range(256)) * 8, *TARGET), 2, "b.csv",
     before="handled")
case("inspect-corrupt-parquet", "cli", lambda t, s: ["inspect", write(
     t, "c.parquet", parquet_bytes()), *TARGET], 2, "cannot read", "c.parquet", before="handled")
case("inspect-npz-without-X-y", "cli", lambda t, s: ["inspect", npz(t, "a.npz", a=np.ones(3))], 2,
     "lacks arrays", "'X'", "'y'", before="handled")
case("inspect-npz-nan-images", "cli", lambda t, s: ["inspect", npz(
     t, "nan.npz", X=np.where(np.arange(4 * 64).reshape(4, 8, 8) == 5, np.nan, 1.0),
     y=np.array([0, 1, 0, 1]))], 2, "NaN", "image 0", before="silent")
case("fit-npz-nan-images", "cli", lambda t, s: ["fit", "--data", npz(
     t, "nan.npz", X=np.full((4, 8, 8), np.nan), y=np.array([0, 1, 0, 1])), "--out", "m", *FIT],
     2, "NaN", before="handled")
case("inspect-npz-text-images", "cli", lambda t, s: ["inspect", npz(
     t, "s.npz", X=np.full((4, 2, 2), "a"), y=np.array([0, 1, 0, 1]))], 2,
     "pixels must be numbers", before="traceback")
case("inspect-npz-2d-labels", "cli", lambda t, s: ["inspect", npz(
     t, "y2.npz", X=np.ones((4, 8, 8)), y=np.ones((4, 2)))], 2, "one-dimensional",
     before="traceback")
case("inspect-one-class", "cli", inspect("o.csv", ONE_CLASS_CSV, *TARGET), 2, "single class",
     "'x'", before="handled")
case("fit-one-row-per-class", "cli", fit("r.csv", ONE_ROW_PER_CLASS_CSV, *TARGET), 2,
     "fewer than 2", before="handled")
case("inspect-nan-only-column", "cli", inspect("n.csv", NAN_COL_CSV, *TARGET), 2,
     "column 'b' has no values", before="handled")
case("inspect-nan-only-column-dropped", "cli", inspect("n.csv", NAN_COL_CSV, *TARGET, "--drop",
     "b"), 0, "integer", before="refused")  # before: "has no values; drop it" even with --drop b
case("inspect-target-all-nan", "cli", inspect("n.csv", NAN_TARGET_CSV, *TARGET), 2, "'label'",
     "no values", before="vague")
case("inspect-folder-without-images", "cli", lambda t, s: ["inspect", image_folder(t, {})], 2,
     "empty", "no images", before="vague")
case("inspect-folder-empty-class", "cli", lambda t, s: ["inspect", image_folder(
     t, {"a": 2, "b": 2})], 2, "empty has no images", before="silent")
case("inspect-missing-file", "cli", lambda t, s: ["inspect", "nope.csv", *TARGET], 2,
     "no such file", "nope.csv", before="handled")
case("inspect-unknown-builtin", "cli", lambda t, s: ["inspect", "builtin:mnist"], 2,
     "unknown builtin dataset 'mnist'", before="handled")
case("inspect-declare-unknown-kind", "cli", lambda t, s: [
     "inspect", str(s.good_csv), *TARGET, "--declare", "c=weird"], 2, "'c'", "'weird'",
     before="handled")
case("inspect-drop-unknown-column", "cli", lambda t, s: [
     "inspect", str(s.good_csv), *TARGET, "--drop", "zzz"], 2, "'zzz'", before="handled")
case("inspect-declare-without-kind", "cli", lambda t, s: [
     "inspect", str(s.good_csv), *TARGET, "--declare", "c"], 2, "COLUMN=KIND", before="handled")
case("inspect-declare-on-images", "cli", lambda t, s: ["inspect", npz(
     t, "i.npz", X=np.ones((4, 8, 8)), y=np.array([0, 1, 0, 1])), "--drop", "a"], 2,
     "tables only", before="handled")
case("fit-data-empty-string", "cli", lambda t, s: ["fit", "--data", "", *TARGET, "--out", "m",
     *FIT], 2, "empty", before="vague")

# -- augment inspect: output size --------------------------------------------------------
# Silent before: a 5 MB text cell was printed whole, in the table and in --json.
case("inspect-5mb-cell", "cli", lambda t, s: ["inspect", big_cell_csv(t), *TARGET], 0,
     "categories", before="silent", check=short_output())
case("inspect-5mb-cell-json", "cli", lambda t, s: ["inspect", big_cell_csv(t), *TARGET,
     "--json"], 0, '"truncated"', before="silent", check=short_json)


# -- augment fit: hyperparameters, params.yaml, outputs ----------------------------------
# Tracebacks before: lr=-1 (NaN losses, then a crash), checkpoint_every=0. Silent: a
# negative --seed. The output checks (foreign folder, a file, a file as parent) and the
# params.yaml errors were handled already.
def fit_good(*extra: str, out: str = "m", before_files: dict | None = None) -> Callable:
    return lambda t, s: files(t, before_files or {}, [
        "fit", "--data", str(s.good_csv), *TARGET, "--out", out, *extra])


case("fit-negative-lr", "cli", fit_good(*FIT, "--set", "lr=-1"), 2, "lr", "-1", before="traceback")
case("fit-nan-lr", "cli", fit_good(*FIT, "--set", "lr=nan"), 2, "lr", "nan", before="handled")
case("fit-checkpoint-every-0", "cli", fit_good(*FIT, "--set", "checkpoint_every=0"), 2,
     "checkpoint_every", before="traceback")
case("fit-epochs-negative", "cli", fit_good(*FIT, "--set", "epochs=-1"), 2, "epochs",
     before="handled")
case("fit-unknown-hyperparameter", "cli", fit_good(*FIT, "--set", "lrr=0.1"), 2, "lrr",
     before="handled")
case("fit-set-without-value", "cli", fit_good(*FIT, "--set", "lr"), 2, "KEY=VALUE",
     before="handled")
case("fit-unknown-generator", "cli", fit_good("--generator", "flow"), 2,
     "unknown generator 'flow'", before="handled")
case("fit-negative-seed", "cli", fit_good(*FIT, "--seed", "-1"), 2, "seed", "-1", before="silent")
case("fit-out-foreign-folder", "cli", fit_good(*FIT, out="mine", before_files={
     "mine/notes.txt": "keep me"}), 2, "mine", "did not write", before="handled")
case("fit-out-is-a-file", "cli", fit_good(*FIT, out="m.txt", before_files={"m.txt": "keep me"}),
     2, "m.txt", "is a file", before="handled")
case("fit-out-parent-is-a-file", "cli", fit_good(*FIT, out="f.txt/model", before_files={
     "f.txt": "keep me"}), 2, "f.txt", before="handled")
case("fit-params-wrong-type", "cli", fit_good("--generator", "vae", "--params", "params.yaml",
     before_files={"params.yaml": "train:\n  vae:\n    epochs: ten\n"}), 2, "params.yaml",
     "epochs", "'ten'", before="handled")
case("fit-params-in-cwd-wrong-type", "cli", fit_good("--generator", "vae", before_files={
     "params.yaml": "train:\n  vae:\n    lr: fast\n"}), 2, "params.yaml", "lr", before="handled")
case("fit-params-not-yaml", "cli", fit_good("--generator", "vae", "--params", "p.yaml",
     before_files={"p.yaml": "train: [unclosed\n"}), 2, "p.yaml", "not valid YAML",
     before="handled")
case("fit-params-missing", "cli", fit_good("--generator", "vae", "--params", "nope.yaml"), 2,
     "nope.yaml", before="handled")


# -- augment sample: counts, ratios, seeds, model files, outputs -------------------------
# Tracebacks before: --ratio nan / inf, --seed -1, sample.seed: abc in params.yaml, a
# corrupt curve.json beside good weights, an output folder that cannot be created under
# /proc. Silent: a class named twice (the last won), all-zero counts, 12M rows (sampled).
# Vague: a config.json without its "info" block ("does not match its config: 'info'").
def sample_args(*extra: str, model: Callable[[Path, Shared], str] | None = None,
                out: str = "syn.csv", before_files: dict | None = None) -> Callable:
    def build(t: Path, s: Shared):
        path = model(t, s) if model else str(s.model)
        return files(t, before_files or {}, ["sample", "--model", path, *extra, "--out", out])
    return build


def broken(edit: Callable[[Path], None]) -> Callable[[Path, Shared], str]:
    """A copy of the shared model in the case folder, changed by `edit`."""
    return lambda t, s: copy_model(t, s, edit)


case("sample-counts-1e12", "cli", sample_args("--counts", "x=1e12"), 2, "'x'", "1e12",
     before="handled")
case("sample-counts-duplicate-class", "cli", sample_args("--counts", "x=5,x=7"), 2, "'x'", "twice",
     before="silent")
case("sample-counts-all-zero", "cli", sample_args("--counts", "x=0,y=0"), 2, "no rows",
     before="silent")
case("sample-counts-over-10m", "cli", sample_args("--counts", "x=6000000,y=6000000"), 2,
     "10,000,000", before="silent")
case("sample-counts-unknown-class", "cli", sample_args("--counts", "zebra=3"), 2, "'zebra'",
     before="handled")
case("sample-counts-negative", "cli", sample_args("--counts", "x=-3"), 2, "'x'", "-3",
     before="handled")
case("sample-ratio-nan", "cli", sample_args("--ratio", "nan"), 2, "ratio", "nan",
     before="traceback")
case("sample-ratio-inf", "cli", sample_args("--ratio", "inf"), 2, "ratio", "inf",
     before="traceback")
case("sample-balance-share-2", "cli", sample_args("--balance", "2"), 2, "(0, 1]", before="handled")
case("sample-negative-seed", "cli", sample_args("--counts", "x=3", "--seed", "-1"), 2, "seed",
     "-1", before="traceback")
case("sample-params-seed-text", "cli", sample_args("--counts", "x=3", before_files={
     "params.yaml": "sample:\n  seed: abc\n"}), 2, "params.yaml", "sample.seed",
     before="traceback")
case("sample-missing-model", "cli", sample_args("--counts", "x=3", model=lambda t, s: "nope"), 2,
     "nope", "not a saved generator", before="handled")
case("sample-corrupt-curve-json", "cli", sample_args("--counts", "x=3", model=broken(
     lambda m: (m / "curve.json").write_text("[{"))), 2, "curve.json", before="traceback")
case("sample-config-without-info", "cli", sample_args("--counts", "x=3", model=broken(drop_info)),
     2, "config.json", "'info'", before="vague")
case("sample-corrupt-weights", "cli", sample_args("--counts", "x=3", model=broken(
     lambda m: (m / "weights.safetensors").write_bytes(b"junk"))), 2, "weights.safetensors",
     "corrupt", before="handled")
case("sample-config-not-json", "cli", sample_args("--counts", "x=3", model=broken(
     lambda m: (m / "config.json").write_text("{nope"))), 2, "config.json", "not valid JSON",
     before="handled")
case("sample-out-foreign-file", "cli", sample_args("--counts", "x=3", out="mine.csv", before_files={
     "mine.csv": "a\n1\n"}), 2, "mine.csv", "already exists", before="handled")
case("sample-out-wrong-suffix", "cli", sample_args("--counts", "x=3", out="syn.npz"), 2, "syn.npz",
     ".csv or .parquet", before="handled")
case("sample-out-is-a-folder", "cli", sample_args("--counts", "x=3", out="dir.csv", before_files={
     "dir.csv/x.txt": "keep"}), 2, "dir.csv", "folder", before="handled")
case("sample-out-parent-is-a-file", "cli", sample_args("--counts", "x=3", out="f.txt/syn.csv",
     before_files={"f.txt": "keep me"}), 2, "f.txt", before="handled")
case("sample-out-cannot-be-created", "cli", sample_args(
     "--counts", "x=3", out="/proc/augment-bad-input/syn.csv"), 2, "/proc/augment-bad-input",
     before="traceback")


# -- augment validate / evaluate / publish ----------------------------------------------
# Tracebacks before: a 5-row real table without --holdout (train_test_split), an inf cell
# (sklearn), --seeds -1 (RandomForest random_state). Silent: a mixed column in --real.
def real_vs(real: Callable[[Path, Shared], str], *extra: str, command: str = "validate",
            before_files: dict | None = None) -> Callable:
    def build(t: Path, s: Shared):
        other = ["--synthetic", str(s.syn_csv)] if command == "validate" else [
            "--test", str(s.good_csv)]
        out = "gate" if command == "validate" else "s.json"
        return files(t, before_files or {}, [command, "--real", real(t, s), *other, *TARGET,
                                             "--out", out, *extra])
    return build


def good(t: Path, s: Shared) -> str:
    return str(s.good_csv)


def text(name: str, content: str) -> Callable[[Path, Shared], str]:
    return lambda t, s: write(t, name, content)


case("validate-5-row-real", "cli", real_vs(text("r.csv", FIVE_ROWS_CSV)), 2, "--holdout",
     before="traceback")
case("validate-real-inf", "cli", real_vs(text("inf.csv", INF_CSV)), 2, "'b'", "infinite",
     before="traceback")
case("validate-out-is-a-file", "cli", real_vs(good, before_files={"gate": "keep me"}), 2, "gate",
     "is a file", before="handled")
case("validate-params-wrong-type", "cli", real_vs(good, before_files={
     "params.yaml": "validate:\n  max_detection_auc: high\n"}), 2, "params.yaml",
     "max_detection_auc", before="handled")
case("validate-missing-synthetic", "cli", lambda t, s: [
     "validate", "--real", str(s.good_csv), "--synthetic", "nope.csv", *TARGET, "--out", "gate"],
     2, "nope.csv", before="handled")
case("evaluate-out-not-json", "cli", lambda t, s: [
     "evaluate", "--real", str(s.good_csv), "--test", str(s.good_csv), *TARGET, "--out",
     "scores.txt"], 2, "scores.txt", ".json", before="handled")
case("evaluate-unknown-classifier", "cli", real_vs(good, "--classifier", "svm", command="evaluate"),
     2, "'svm'", before="handled")
case("evaluate-synthetic-without-name", "cli", lambda t, s: [
     "evaluate", "--real", str(s.good_csv), "--test", str(s.good_csv), *TARGET, "--synthetic",
     str(s.syn_csv), "--out", "s.json"], 2, "NAME=PATH", before="handled")
case("evaluate-test-other-columns", "cli", lambda t, s: [
     "evaluate", "--real", str(s.good_csv), "--test", write(t, "m.csv", MIXED_CSV.replace(
         "hello", "7")), *TARGET, "--out", "s.json"], 2, "lacks the real training columns",
     before="handled")
case("evaluate-real-mixed", "cli", real_vs(text("m.csv", MIXED_CSV), "--counts", "x=2",
     command="evaluate"), 2,
     "'b'", "mixes numbers and text", before="silent")
case("evaluate-negative-seed", "cli", real_vs(good, "--classifier", "random_forest", "--seeds",
     "-1", "--counts", "x=2", command="evaluate"), 2, "seed", "-1", before="traceback")
case("publish-unsafe-name", "cli", lambda t, s: ["publish", "../x", "--repo", "."], 2, "'../x'",
     "not allowed", before="handled")
case("publish-nothing-published", "cli", lambda t, s: ["publish", "t", "--repo", "."], 2,
     "nothing to", before="handled")

# -- real subprocesses: nothing but one line reaches the terminal ------------------------
# Silent before: inf, duplicated columns. Traceback: corrupt curve.json. Vague: a wrong
# type in params.yaml did not name the file.
case("proc-inspect-inf", "proc", lambda t, s: [
     str(AUGMENT), "inspect", write(t, "inf.csv", INF_CSV), *TARGET], 2, "'b'", "infinite",
     before="silent")
case("proc-inspect-duplicate-columns", "proc", lambda t, s: [
     str(AUGMENT), "inspect", write(t, "dup.csv", DUP_CSV), *TARGET, "--json"], 2, "'x'",
     "duplicated", before="silent")
case("proc-sample-corrupt-curve", "proc", lambda t, s: [
     str(AUGMENT), "sample", "--model", copy_model(t, s, lambda m: (m / "curve.json").write_text(
         "{{")), "--counts", "x=3", "--out", "syn.csv"], 2, "curve.json", before="traceback")
case("proc-prepare-params-wrong-type", "proc", lambda t, s: [
     sys.executable, "-m", "pipelines.prepare", "--workspace", stage_ws(
         t, s, setting("datasets.t.per_class", "many"), copy=False)], 2, "params.yaml",
     "per_class", before="vague")


# -- pipeline stages (python -m pipelines.<stage>) ----------------------------------------
# Silent before: per_class: 0, epochs: -1, an inf or mixed source and drop of every
# column were prepared (train crashed later). Tracebacks: lr: nan and ratio: inf in train
# / sample, a corrupt requested.json, evaluate.seeds: [-1]. Vague: a wrong type did not
# name params.yaml. Output folders that are files or foreign were handled.
def source(name: str, content: str) -> Callable[[dict], None]:
    """An edit of params: dataset t's source is a file of the case folder (made here)."""
    def edit(params: dict) -> None:
        folder = Path.cwd()
        write(folder, name, content)
        params["datasets"]["t"]["source"] = str(folder / name)
    return edit


case("prepare-wrong-type", "stage", stage("prepare", edit=setting("prepare.val", "a lot"),
     copy=False), 2, "params.yaml", "prepare.val", before="vague")
case("prepare-per-class-0", "stage", stage("prepare", edit=setting("datasets.t.per_class", 0),
     copy=False), 2, "per_class", before="silent")
case("prepare-epochs-negative", "stage", stage("prepare", edit=setting("train.vae.epochs", -1),
     copy=False), 2, "vae.epochs", before="silent")
case("prepare-unsafe-dataset-name", "stage", stage("prepare", edit=lambda p: p.update(
     datasets={"../x": {"source": "builtin:iris"}}), copy=False), 2, "'../x'", before="handled")
case("prepare-source-inf", "stage", stage("prepare", edit=source("inf.csv", grow(INF_CSV)),
     copy=False), 2, "'b'", "infinite", before="silent")
case("prepare-source-mixed", "stage", stage("prepare", edit=source("m.csv", grow(MIXED_CSV)),
     copy=False), 2, "'b'", "mixes numbers and text", "declare", before="silent")
case("prepare-drop-everything", "stage", stage("prepare", edit=setting(
     "datasets.t.drop", ["a", "b", "c"]), copy=False), 2, "no feature columns left",
     before="silent")
case("prepare-one-row-per-class", "stage", stage("prepare", edit=source(
     "r.csv", ONE_ROW_PER_CLASS_CSV), copy=False), 2, "class 'x' has 1 row", before="handled")
case("prepare-missing-params", "stage", lambda t, s: ("prepare", ["--workspace", str(t)]), 2,
     "no parameter file", before="handled")
case("prepare-out-is-a-file", "stage", stage("prepare", copy=False, before_files={
     "ws/data/prepared/t": "keep me"}), 2, "is a file", before="handled")
case("prepare-out-parent-is-a-file", "stage", stage("prepare", copy=False, before_files={
     "ws/data": "keep me"}), 2, "data", before="handled")
case("prepare-out-foreign-folder", "stage", stage("prepare", copy=False, before_files={
     "ws/data/prepared/t/mine.txt": "keep"}), 2, "did not write", before="handled")
case("train-unknown-generator", "stage", stage("train", "--generator", "flow", gen=False), 2,
     "'flow'", before="handled")
case("train-nan-lr", "stage", stage("train", edit=setting("train.vae.lr", float("nan"))), 2,
     "lr", "nan", before="traceback")
case("train-before-prepare", "stage", stage("train", copy=False), 2, "prepare stage",
     before="handled")
case("train-corrupt-split", "stage", stage("train", before_files={
     "ws/data/prepared/t/train.parquet": b"junk"}), 2, "train.parquet", before="handled")
case("sample-stage-unknown-policy", "stage", stage("sample", edit=setting("sample.policy", "most")),
     2, "'most'", before="handled")
case("sample-stage-ratio-inf", "stage", stage("sample", edit=setting("sample.ratio", float("inf"))),
     2, "ratio", before="traceback")
case("sample-stage-counts-unknown-class", "stage", stage("sample", edit=lambda p: p["sample"].update(
     policy="counts", counts={"zebra": 4})), 2, "'zebra'", before="handled")
case("sample-stage-filter-q-above-one", "stage", stage("sample", edit=setting(
     "filter.anomaly.q", 1.5)), 2, "filter.anomaly.q", before="handled")
case("sample-stage-filter-unknown-key", "stage", stage("sample", edit=setting(
     "filter.memorisation.beta", 0.1)), 2, "filter.memorisation.beta", before="handled")
case("sample-stage-corrupt-model", "stage", stage("sample", before_files={
     "ws/models/t/vae/config.json": "{"}), 2, "config.json", before="handled")
case("validate-stage-no-samples", "stage", stage("validate", remove="ws/data/synthetic"), 2,
     "sample stage", before="handled")
case("validate-stage-corrupt-requested", "stage", stage("validate", before_files={
     "ws/data/synthetic/t/vae/requested.json": "{"}), 2, "requested.json", before="traceback")
case("validate-stage-wrong-type", "stage", stage("validate", edit=setting(
     "validate.min_dcr_ratio", "low")), 2, "params.yaml", "min_dcr_ratio", before="vague")
case("publish-stage-no-gate", "stage", stage("publish", gen=False), 2, "vae", "validate stage",
     before="handled")
case("publish-stage-bad-select", "stage", stage("publish", gen=False, edit=setting(
     "publish.select", "first")), 2, "'first'", before="handled")
case("evaluate-stage-unknown-key", "stage", stage("evaluate", gen=False, edit=setting(
     "evaluate.classifierz", ["random_forest"])), 2, "evaluate.classifierz", before="handled")
case("evaluate-stage-negative-seed", "stage", stage("evaluate", gen=False, edit=setting(
     "evaluate.seeds", [-1])), 2, "seeds", "-1", before="traceback")
case("report-stage-unsafe-name", "stage", lambda t, s: ("report", [
     "--workspace", stage_ws(t, s, copy=False), "--dataset", "a/../../b"]), 2, "not allowed",
     before="handled")
case("report-stage-no-pipeline", "stage", stage("report", gen=False, copy=False,
     edit=lambda p: p.pop("pipeline")), 2, "pipeline", before="handled")
case("stage-params-not-a-mapping", "stage", stage("train", copy=False, raw="- just\n- a list\n"), 2,
     "params.yaml", "mapping", before="handled")


# -- library: augment.data ----------------------------------------------------------------
# Tracebacks before: load_dataset(Path(...)), load_dataset(None / 42), overrides that are
# not a mapping (AttributeError); labels mixing numbers and text (TypeError in np.unique);
# 2-D labels; an .npz split without y (KeyError). Vague: load_dataset("") read "." as an
# image folder.
def lib(fn: Callable[..., Any], *args, **kwargs) -> Callable:
    """A library call; arguments that are `Arg`s are made in the case folder first."""
    def build(t: Path, s: Shared):
        real = [a(t, s) if isinstance(a, Arg) else a for a in args]
        named = {k: (v(t, s) if isinstance(v, Arg) else v) for k, v in kwargs.items()}
        return lambda: fn(*real, **named)
    return build


@dataclass(frozen=True)
class Arg:
    """An argument built per case: make(case folder, shared)."""

    make: Callable[[Path, Shared], Any]

    def __call__(self, t: Path, s: Shared) -> Any:
        return self.make(t, s)


GOOD = Arg(lambda t, s: s.good_csv)
GEN, UNFITTED = Arg(lambda t, s: s.generator), Arg(lambda t, s: s.unfitted)


def method(obj: Arg, name: str, *args, **kwargs) -> Callable:
    return lib(lambda o: getattr(o, name)(*args, **kwargs), obj)


def rows_are(n: int) -> Callable[[Any], None]:
    def check(ds) -> None:
        assert len(ds) == n
    return check


case("load-dataset-path-object", "lib", lib(load_dataset, GOOD, target="label"), None,
     before="traceback", check=rows_are(40))
case("load-dataset-none", "lib", lib(load_dataset, None), DataError, "str or pathlib.Path",
     "NoneType", before="traceback")
case("load-dataset-int", "lib", lib(load_dataset, 42), DataError, "str or pathlib.Path", "int",
     before="traceback")
case("load-dataset-empty-string", "lib", lib(load_dataset, ""), DataError, "empty",
     before="vague")
case("load-dataset-overrides-list", "lib", lib(load_dataset, GOOD, "label", overrides=["a"]),
     DataError, "mapping", before="traceback")
case("make-dataset-mixed-labels", "lib", lib(make_dataset, "t", pd.DataFrame({"a": [1.0, 2, 3, 4]}),
     np.array([1, "a", 1, "a"], dtype=object)), DataError, "labels mix", "1", "'a'",
     before="traceback")
case("make-dataset-2d-labels", "lib", lib(make_dataset, "t", np.ones((4, 8, 8)), np.ones((4, 2))),
     DataError, "one-dimensional", before="traceback")
case("stratified-split-bad-fractions", "lib", lib(lambda: stratified_split(
     load_dataset("builtin:iris"), 0.6, 0.6)), ConfigError, "val + test < 1", before="handled")
case("read-split-npz-without-y", "lib", lib(read_split, Arg(lambda t, s: t / npz(
     t, "train.npz", X=np.ones((4, 8, 8))))), DataError, "lacks arrays", "'y'",
     before="traceback")
case("schema-json-corrupt", "lib", lib(TableSchema.from_json, "{"), DataError, "schema JSON",
     before="handled")

# -- library: generators ------------------------------------------------------------------
# Tracebacks before: fit on a DataFrame with inf, with or without a schema (sklearn "Input
# X contains infinity"); sample(seed=1.5); counts of 1e12; a curve.json that is not text.
# Silent: get_generator("vae", lr=-1.0), a mixed object column. Vague: integer column
# names ("columns ['0', '1'] of the schema are not in the table").
INF_FRAME = pd.DataFrame({"a": [1.0, np.inf, 2.0, -np.inf], "b": [1, 2, 3, 4]})
XY = np.array(["x", "y", "x", "y"], dtype=object)


def fit_on(X, y, schema_from: pd.DataFrame | None = None) -> Callable:
    schema = infer_schema(schema_from) if schema_from is not None else None
    return lib(lambda: get_generator("vae", **TINY).fit(X, y, schema=schema))


def saved(edit: Callable[[Path], None]) -> Arg:
    return Arg(lambda t, s: t / copy_model(t, s, edit))


case("get-generator-unknown", "lib", lib(get_generator, "flow"), ConfigError, "'flow'",
     before="handled")
case("get-generator-negative-lr", "lib", lib(get_generator, "vae", lr=-1.0), ConfigError,
     "vae.lr", before="silent")
case("get-generator-float-epochs", "lib", lib(get_generator, "gan", epochs=1.5), ConfigError,
     "gan.epochs", before="handled")
case("get-generator-unknown-key", "lib", lib(get_generator, "diffusion", stepz=3), ConfigError,
     "diffusion.stepz", before="handled")
case("fit-dataframe-inf", "lib", fit_on(INF_FRAME, XY), DataError, "'a'", "infinite",
     before="traceback")
case("fit-dataframe-inf-with-schema", "lib", fit_on(INF_FRAME, XY, schema_from=INF_FRAME.replace(
     [np.inf, -np.inf], 0.0)), DataError, "'a'", "infinite", before="traceback")
case("fit-dataframe-mixed", "lib", fit_on(pd.DataFrame({"a": np.array(
     [1.5, 2.0, "hello", 3.0], dtype=object)}), XY), DataError, "'a'", "'hello'", before="silent")
case("fit-dataframe-int-column-names", "lib", fit_on(pd.DataFrame(np.ones((4, 2))), XY), DataError,
     "column names must be text", before="vague")
case("fit-list", "lib", fit_on([[1, 2], [3, 4], [5, 6], [7, 8]], XY), DataError, "list",
     before="handled")
case("fit-nan-images", "lib", fit_on(np.full((4, 8, 8), np.nan), XY), DataError, "NaN",
     before="handled")
case("fit-one-class", "lib", fit_on(pd.DataFrame({"a": [1.0, 2, 3, 4]}), np.array(["x"] * 4)),
     DataError, "'x'", before="handled")
case("fit-label-count-mismatch", "lib", fit_on(pd.DataFrame({"a": [1.0, 2, 3, 4]}), XY[:3]),
     DataError, "3 labels", before="handled")
case("sample-unfitted", "lib", method(UNFITTED, "sample", {"x": 1}), ModelError, "not fitted",
     before="handled")
case("sample-float-seed", "lib", method(GEN, "sample", {"x": 1}, seed=1.5), DataError, "seed",
     "1.5", before="traceback")
case("sample-count-1e12", "lib", method(GEN, "sample", {"x": 10**12}), DataError, "10,000,000",
     before="traceback")
case("sample-count-float", "lib", method(GEN, "sample", {"x": 2.5}), DataError, "'x'", "2.5",
     before="handled")
case("sample-count-unknown-class", "lib", method(GEN, "sample", {"zebra": 1}), DataError,
     "'zebra'", before="handled")
case("sample-counts-not-mapping", "lib", method(GEN, "sample", [("x", 1)]), DataError, "mapping",
     before="handled")
case("sample-rows-unaligned", "lib", method(GEN, "sample", {"x": 5}, rows=(1, 3)), DataError,
     "multiple of", before="handled")
case("load-generator-missing", "lib", lib(load_generator, Arg(lambda t, s: t / "nope")),
     ModelError, "not a saved generator", before="handled")
case("load-generator-foreign-config", "lib", lib(load_generator, saved(
     lambda m: (m / "config.json").write_text('{"a": 1}'))), ModelError,
     "not an augment generator", before="handled")
case("load-generator-curve-not-text", "lib", lib(load_generator, saved(
     lambda m: (m / "curve.json").write_bytes(b"\xff\xfe"))), ModelError, "curve.json",
     before="traceback")
case("load-generator-without-info", "lib", lib(load_generator, saved(drop_info)), ModelError,
     "'info'", before="handled")

# -- library: sampling policy, gate, publish ----------------------------------------------
# Tracebacks before: policy_counts(ratio=nan), run_gate on 5 real rows (sklearn), run_gate
# on a real table with inf. Silent: counts of 1.5 and 1e12.
case("policy-ratio-nan", "lib", lib(policy_counts, {"a": 5, "b": 2}, "ratio", float("nan")),
     ConfigError, "ratio", "nan", before="traceback")
case("policy-unknown", "lib", lib(policy_counts, {"a": 5, "b": 2}, "most"), ConfigError, "'most'",
     before="handled")
case("policy-balanced-classes", "lib", lib(policy_counts, {"a": 5, "b": 5}, "balance"),
     ConfigError, "no new rows", before="handled")
case("policy-counts-float", "lib", lib(policy_counts, {"a": 5}, "counts", counts={"a": 1.5}),
     ConfigError, "'a'", "1.5", before="silent")
case("policy-counts-1e12", "lib", lib(policy_counts, {"a": 5}, "counts", counts={"a": 10**12}),
     ConfigError, "10,000,000", before="silent")


def labelled(n: int, images: bool = False, X: pd.DataFrame | None = None) -> LabelledData:
    """n rows of good_frame's features (or n images), labels x / y alternating."""
    if X is None:
        X = np.ones((n, 8, 8)) if images else good_frame(max(n, 2)).drop(columns="label").head(n)
    return LabelledData(X, np.array(["x", "y"] * len(X), dtype=object)[: len(X)])


def gate(real: LabelledData, syn: LabelledData, holdout: LabelledData, out_file: bool = False):
    def build(t: Path, s: Shared):
        if out_file:
            write(t, "gate", "keep me")
        requested = {"x": len(syn.y) // 2, "y": len(syn.y) - len(syn.y) // 2}
        return lambda: run_gate(real, syn, holdout, requested, t / "gate")
    return build


case("gate-empty-synthetic", "lib", gate(labelled(30), labelled(0), labelled(12)), DataError,
     "empty", before="handled")
case("gate-images-vs-table", "lib", gate(labelled(30), labelled(10, images=True), labelled(12)),
     DataError, "tables or all be images", before="handled")
case("gate-5-row-real", "lib", gate(labelled(5), labelled(10), labelled(12)), DataError, "5 rows",
     before="traceback")
case("gate-out-is-a-file", "lib", gate(labelled(30), labelled(10), labelled(12), out_file=True),
     OutputExistsError, "is a file", before="handled")
case("gate-real-inf", "lib", gate(labelled(0, X=pd.concat([INF_FRAME] * 6, ignore_index=True)),
     labelled(10, X=INF_FRAME.head(2).replace([np.inf, -np.inf], 1.0)), labelled(
         0, X=pd.concat([INF_FRAME.replace([np.inf, -np.inf], 1.0)] * 3, ignore_index=True))),
     DataError, "infinite", before="traceback")
case("load-augmented-unsafe-name", "lib", lib(load_augmented, "../x", repo="."), ConfigError,
     "'../x'", before="handled")
case("load-augmented-missing-repo", "lib", lib(load_augmented, "t", repo=Arg(
     lambda t, s: str(t / "nope"))), AugmentError, "no published version", before="handled")
case("load-augmented-not-a-git-repo", "lib", lib(load_augmented, "t", repo=Arg(
     lambda t, s: str(t))), AugmentError, "git", before="handled")


# -- DAG run parameters (dags/augment_params.run_params + check_params), no Airflow --------
# Silent before: ratio nan, seed -1, all-zero counts, overrides with lr -1 passed the
# configure checks. Traceback: overrides that are not a mapping.
def dag_conf(conf: dict) -> Callable:
    def build(t: Path, s: Shared):
        def configure() -> None:  # as the DAG's configure task does
            merged = run_params(s.params(), {"profile": "tiny", **conf})
            check_params(merged, conf.get("dataset", "t"), merged["pipeline"]["generators"])
        return configure
    return build


case("dag-unknown-dataset", "lib", dag_conf({"dataset": "nope"}), ConfigError, "'nope'",
     before="handled")
case("dag-unsafe-dataset", "lib", dag_conf({"dataset": "../x"}), ConfigError, "'../x'",
     before="handled")
case("dag-unknown-policy", "lib", dag_conf({"dataset": "t", "policy": "most"}), ConfigError,
     "'most'", before="handled")
case("dag-ratio-nan", "lib", dag_conf({"dataset": "t", "policy": "ratio", "ratio": float("nan")}),
     ConfigError, "ratio", before="silent")
case("dag-unknown-generator", "lib", dag_conf({"dataset": "t", "generators": ["flow"]}),
     ConfigError, "flow", before="handled")
case("dag-negative-seed", "lib", dag_conf({"dataset": "t", "seed": -1}), ConfigError, "seed",
     before="silent")
case("dag-counts-all-zero", "lib", dag_conf({"dataset": "t", "policy": "counts",
     "counts": {"x": 0, "y": 0}}), ConfigError, "no rows", before="silent")
case("dag-override-negative-lr", "lib", dag_conf({"dataset": "t", "overrides": {
     "train": {"vae": {"lr": -1}}}}), ConfigError, "vae.lr", before="silent")
case("dag-override-wrong-type", "lib", dag_conf({"dataset": "t", "overrides": {
     "prepare": {"seed": "zero"}}}), ConfigError, "prepare.seed", before="handled")
case("dag-overrides-not-a-mapping", "lib", dag_conf({"dataset": "t", "overrides": "train"}),
     ConfigError, "overrides", before="traceback")


# ---- the runner -------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its type; files with size, mtime and a digest."""
    tree: dict[str, tuple] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISREG(info.st_mode):
                tree[key] = ("file", info.st_size, info.st_mtime_ns,
                             hashlib.sha1(path.read_bytes()).hexdigest())
            else:
                tree[key] = ("dir" if stat.S_ISDIR(info.st_mode) else "other",)
    return tree


def changes(before: dict, after: dict) -> list[str]:
    return sorted([f"created {p}" for p in after.keys() - before.keys()]
                  + [f"removed {p}" for p in before.keys() - after.keys()]
                  + [f"changed {p}" for p in before.keys() & after.keys() if before[p] != after[p]])


def call_main(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int | None, str]:
    """Exit status of an in-process main(argv); an escaping exception becomes a traceback
    text (what a terminal would show)."""
    try:
        return main(argv), ""
    except SystemExit as exit_:  # argparse usage errors
        return exit_.code if isinstance(exit_.code, int) else 1, ""
    except Exception:  # noqa: BLE001  the point of the catalogue: none may escape
        return None, traceback.format_exc()


def run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUGMENT_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    return out.returncode, out.stdout, out.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, shared: Shared, tmp_path: Path, capsys, monkeypatch):
    work = tmp_path / "case"
    work.mkdir()
    monkeypatch.chdir(work)  # no params.yaml of the repository is followed
    target = case.build(work, shared)
    before = snapshot(work), snapshot(shared.root)
    capsys.readouterr()
    if case.kind == "lib":
        result, raised, text = None, None, ""
        try:
            result = target()
        except Exception as err:  # noqa: BLE001
            raised, text = err, "".join(traceback.format_exception(err))
        if case.expect is None:
            assert raised is None, text
            if case.check:
                case.check(result)
        else:
            assert issubclass(case.expect, AugmentError)
            assert isinstance(raised, case.expect), (
                f"expected {case.expect.__name__}, got {text or f'no error: {result!r}'[:500]}")
            for needle in case.needles:
                assert needle in str(raised), f"{needle!r} not in: {raised}"
    else:
        if case.kind == "proc":
            code, out, err = run_subprocess(target, work)
        else:
            if case.kind == "cli":
                from augment.cli import main as entry
                argv = target
            else:
                name, argv = target
                entry = importlib.import_module(f"pipelines.{name}").main
            code, escaped = call_main(entry, argv)
            captured = capsys.readouterr()
            out, err = captured.out, captured.err + escaped
        shown = f"exit {code}\nstderr: {err[-3000:]}\nstdout: {out[-500:]}"
        assert "Traceback" not in err, shown
        assert code == case.expect, shown
        text = out if case.expect == 0 else err
        for needle in case.needles:
            assert needle in text, f"{needle!r} not in output; {shown}"
        if case.expect != 0:  # one line names the problem
            assert sum("error:" in line for line in err.splitlines()) == 1, shown
        if case.check:
            case.check(out)
    after = snapshot(work), snapshot(shared.root)
    assert not changes(before[0], after[0]), changes(before[0], after[0])
    assert not changes(before[1], after[1]), f"shared inputs changed: {changes(before[1], after[1])}"


def test_declared_mixed_column_still_prepares(shared: Shared, tmp_path: Path):
    """`declare: {b: categorical}` in params.yaml lets a mixed column through the pipeline."""
    from pipelines.prepare import main

    (tmp_path / "m.csv").write_text(MIXED_CSV.replace("\n4,5,y\n", "\n4,5,y\n5,6,x\n6,7,y\n"
                                                      "7,8,x\n8,9,y\n9,x,x\n10,y,y\n"))
    params = shared.params()
    params["datasets"]["t"].update(source=str(tmp_path / "m.csv"), declare={"b": "categorical"})
    params["prepare"] = {"val": 0.2, "test": 0.2, "seed": 0}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["--workspace", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "data/prepared/t/schema.json").read_text())
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert kinds == {"a": "integer", "b": "categorical"}


def test_catalogue_size():
    assert len({c.id for c in CASES}) == len(CASES)
    assert len(CASES) >= 60


def test_read_only_output_folder_is_a_clear_error(shared: Shared, capsys, monkeypatch):
    """A folder the user may not write to. Root ignores permissions, so as root the command
    runs with the effective uid of `nobody` (after a first run has imported every module it
    needs, since nobody cannot read root's Python installation)."""
    from augment.cli import main as cli

    work = Path(tempfile.mkdtemp(prefix="augment-ro-"))
    try:
        work.chmod(0o755)
        model = work / "model"
        shutil.copytree(shared.model, model)
        for path in [model, *model.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (work / "ro").mkdir()
        (work / "ro").chmod(0o555)
        monkeypatch.chdir(work)  # no params.yaml is followed
        args = ["sample", "--model", str(model), "--counts", "x=3", "--out"]
        assert cli([*args, str(work / "warm-up.csv")]) == 0  # imports everything
        for name in ("warm-up.csv", "warm-up.csv.counts.json"):
            (work / name).unlink()
        before = snapshot(work)
        capsys.readouterr()
        root = os.geteuid() == 0
        if root:
            import pwd

            os.seteuid(pwd.getpwnam("nobody").pw_uid)
        try:
            code = cli([*args, str(work / "ro" / "syn.csv")])
        finally:
            if root:
                os.seteuid(0)
        err = capsys.readouterr().err
        assert code == 2 and "permission denied" in err and "ro" in err, err
        assert "Traceback" not in err
        assert snapshot(work) == before
    finally:
        shutil.rmtree(work, ignore_errors=True)
