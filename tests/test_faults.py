"""Fault injection with real processes: SIGKILL inside a write, then check what is left.

Every scenario starts a real subprocess and kills it with SIGKILL, the signal no code can
catch (a crash, the OOM killer, a pre-empted machine), at a chosen point inside a write.
The child patches the writer it is about to call (`safetensors.torch.save_file`,
`torch.save`, ...) with one that writes the file, cuts it to half its size and kills its
own process, so the kill lands in the same place every run. Then:

(a) the artifact path holds the previous complete artifact or nothing, never part of one;
(b) after the next, uninterrupted run no temporary sibling (a name holding `.tmp-` or
    `.old-`, see augment/io.py) is left anywhere in the workspace;
(c) the rerun's files are byte-identical to those of an uninterrupted run. Files that
    legitimately hold a time or a random id are compared without those entries; each
    such place says so.

The last scenarios kill `dvc repro` itself, and run three Airflow `dag.test()` runs at
once in one git+DVC workspace (publishing is serialised by `augment.publish.workspace_lock`).
Each child runs with one thread, as the suite's own command does.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import tiny_pipeline, tool_env

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
sys.path.append(str(DAGS))
from augment_params import SMOKE_GATE  # noqa: E402  (plain Python: no Airflow import)

DATASET, FAMILY = "iris", "vae"
STAGE_ARGS = ["--dataset", DATASET, "--generator", FAMILY]
# 3 epochs with a checkpoint after each: a kill at the second checkpoint leaves epoch 1.
PARAMS = tiny_pipeline({DATASET: {"source": "builtin:iris", "target": "target"}}, [FAMILY])
PARAMS["train"][FAMILY].update(epochs=3, checkpoint_every=1)
FIT_TIMES = ("fitted_at", "fit_seconds")  # config.json: when and how long the fit ran
GX_TIME = re.compile(r"\d{8}T\d{6}\.\d+Z")  # GX names run folders by their start time
STRAY = (".tmp-", ".old-")

# Prepended to every child script: the injected faults.
FAULTS = '''
import os, signal, sys

def die():
    """SIGKILL this process: no finally, no atexit, no cleanup, as in a real crash."""
    sys.stderr.write("fault injected: SIGKILL\\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)

def cut_and_die(path):
    """Leave the first half of file `path` on disk, as a write cut short, then die."""
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
        handle.flush()
        os.fsync(handle.fileno())
    die()
'''


# ---- helpers ---------------------------------------------------------------------------
def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The machine's environment minus DVC/git/Airflow settings, plus tool_env's."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DVC_", "GIT_", "AIRFLOW", "AUGMENT_"))}
    return base | tool_env(tmp) | {"OMP_NUM_THREADS": "1", "AUGMENT_THREADS": "1",
                                   "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": "", **extra}


def spawn(args: list[str], cwd: Path, tmp: Path, name: str, env: dict | None = None,
          session: bool = False) -> subprocess.Popen:
    """Start `args` with stdout and stderr in tmp/logs/<name>.log (no pipe to fill up)."""
    (tmp / "logs").mkdir(exist_ok=True)
    log = tmp / "logs" / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env or child_env(tmp), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=session)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    rc = proc.wait(timeout=timeout)
    return rc, proc.log.read_text(errors="replace")  # type: ignore[attr-defined]


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", FAULTS + code, *args]


def stage(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"pipelines.{name}", *args]


def succeed(*procs: subprocess.Popen) -> list[str]:
    """Wait for every process; each must exit 0. Returns their logs."""
    logs = []
    for proc in procs:
        rc, log = finish(proc)
        assert rc == 0, f"{proc.args} exited {rc}:\n{log[-4000:]}"
        logs.append(log)
    return logs


def killed(*procs: subprocess.Popen) -> None:
    """Each process must have died by the injected SIGKILL (not by an error of its own)."""
    for proc in procs:
        rc, log = finish(proc)
        assert rc == -signal.SIGKILL and "fault injected" in log, f"{proc.args}: rc {rc}\n{log[-4000:]}"


def strays(root: Path) -> list[Path]:
    """Temporary siblings left anywhere under `root` (git's own folder aside)."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        found += [Path(folder, n) for n in dirs + names if any(s in n for s in STRAY)]
    return sorted(found)


def files(folder: Path) -> dict[str, bytes]:
    """{relative path: bytes} of every file under `folder` (marker files included)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def visible(folder: Path) -> dict[str, bytes]:
    """`files` without temporary siblings: what a reader of the folder's paths gets."""
    return {k: v for k, v in files(folder).items() if not any(s in k for s in STRAY)}


def model_files(folder: Path) -> dict[str, object]:
    """A model folder's files; config.json without FIT_TIMES, which hold the fit's clock."""
    found: dict[str, object] = dict(files(folder))
    config = json.loads(found.pop("config.json"))
    assert all(config.pop(key) is not None for key in FIT_TIMES)
    found["config.json"] = config
    return found


def drop_key(value: object, key: str) -> object:
    if isinstance(value, dict):
        return {k: drop_key(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [drop_key(v, key) for v in value]
    return value


def gate_files(folder: Path) -> dict[str, object]:
    """A gate folder's files, comparable across runs.

    gate.json, validation.json and the marker byte for byte. suite.json without its "id"
    entries (GX gives every suite and expectation a random UUID). gx/ is GX's own project:
    random ids and run times in nearly every file and run times in folder names, so only
    its file list is compared, with the times blanked.
    """
    found: dict[str, object] = {}
    for name, data in files(folder).items():
        if name.startswith("gx/"):
            found[GX_TIME.sub("<time>", name)] = "gx"
        elif name == "suite.json":
            found[name] = drop_key(json.loads(data), "id")
        else:
            found[name] = data
    return found


def copy_workspace(ref: Path, dest: Path, *parts: str) -> Path:
    """A new workspace with ref's params.yaml and copies of the artifacts `parts`."""
    dest.mkdir(parents=True)
    shutil.copy(ref / "params.yaml", dest / "params.yaml")
    for part in parts:
        (dest / part).parent.mkdir(parents=True, exist_ok=True)
        if (ref / part).is_dir():
            shutil.copytree(ref / part, dest / part)
        else:
            shutil.copy(ref / part, dest / part)
    return dest


def touch_up(path: Path) -> None:
    """Make a previous artifact tell-apart from a new one (JSON stays valid)."""
    path.write_bytes(path.read_bytes() + b"\n")


PREPARED = f"data/prepared/{DATASET}"
MODEL = f"models/{DATASET}/{FAMILY}"
CURVE = f"plots/curves/{DATASET}/{FAMILY}.json"
SYNTHETIC = f"data/synthetic/{DATASET}/{FAMILY}"
GATE = f"reports/{DATASET}/gates/{FAMILY}"
GATE_METRICS = f"metrics/gates/{DATASET}/{FAMILY}.json"
PUBLISHED = f"data/published/{DATASET}"
CHECKPOINTS = f".checkpoints/{DATASET}/{FAMILY}"

# Uninterrupted runs: the `main()` of stages or of the CLI, one after another in one
# process (each process pays seconds of imports; the suite has 2 cores).
RUN_MAINS = '''
import importlib, json
for module, argv in json.loads(sys.argv[1]):
    assert importlib.import_module(module).main(argv) == 0, (module, argv)
'''


def mains(*calls: tuple[str, list]) -> list[str]:
    """A child running each (module, argv): `pipelines.<stage>` or `augment.cli` main()."""
    return python(RUN_MAINS, json.dumps([[m, [str(a) for a in argv]] for m, argv in calls]))


def stage_call(name: str, ws: Path, generator: bool = True) -> tuple[str, list]:
    args = STAGE_ARGS if generator else STAGE_ARGS[:2]
    return f"pipelines.{name}", [*args, "--workspace", ws]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A workspace after an uninterrupted prepare -> train -> sample -> validate -> publish."""
    tmp = tmp_path_factory.mktemp("reference")
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "params.yaml").write_text(yaml.safe_dump(PARAMS, sort_keys=False))
    calls = [stage_call("prepare", ws, generator=False)]
    calls += [stage_call(name, ws) for name in ("train", "sample", "validate")]
    succeed(spawn(mains(*calls, stage_call("publish", ws, generator=False)), ws, tmp, "reference"))
    assert strays(ws) == []
    return ws


# ---- 1. Generator.save -----------------------------------------------------------------
KILL_IN_SAVE = '''
import safetensors.torch
real = safetensors.torch.save_file
def save_file(tensors, filename, metadata=None):  # base.py imports it at call time
    real(tensors, filename, metadata)
    cut_and_die(filename)
safetensors.torch.save_file = save_file
from pipelines.train import main
main(sys.argv[1:])
'''


def test_kill_inside_generator_save(reference, tmp_path):
    """Killed while writing weights.safetensors: no model or the previous one, never half."""
    fresh = copy_workspace(reference, tmp_path / "fresh", PREPARED)
    again = copy_workspace(reference, tmp_path / "again", PREPARED, MODEL, CURVE)
    touch_up(again / MODEL / "curve.json")  # the previous model, told apart from the new
    before = files(again / MODEL)
    killed(*(spawn(python(KILL_IN_SAVE, *STAGE_ARGS, "--workspace", str(ws)), ws, tmp_path,
                   f"kill-{ws.name}") for ws in (fresh, again)))

    assert not (fresh / MODEL).exists()
    assert files(again / MODEL) == before
    for ws in (fresh, again):  # the half-written folder is a temporary sibling
        assert [p.parent for p in strays(ws)] == [(ws / MODEL).parent]

    succeed(spawn(mains(stage_call("train", fresh), stage_call("train", again)), tmp_path,
                  tmp_path, "rerun"))
    for ws in (fresh, again):
        assert strays(ws) == []
        assert model_files(ws / MODEL) == model_files(reference / MODEL)
        assert (ws / CURVE).read_bytes() == (reference / CURVE).read_bytes()
        assert not (ws / CHECKPOINTS).exists()


# ---- 2. checkpoint write ---------------------------------------------------------------
KILL_IN_CHECKPOINT = '''
import torch
real, calls = torch.save, []
def save(obj, f, *args, **kwargs):  # base.py calls torch.save(state, tmp) per checkpoint
    real(obj, f, *args, **kwargs)
    calls.append(f)
    if len(calls) == int(os.environ["KILL_AT_CHECKPOINT"]):
        cut_and_die(f)
torch.save = save
from pipelines.train import main
main(sys.argv[1:])
'''


def test_kill_inside_checkpoint_write_then_resume_is_exact(reference, tmp_path):
    """Killed while writing the 2nd checkpoint: the 1st stays whole, and the resumed fit's
    weights equal an uninterrupted fit's bytes (checkpoints hold the RNG states)."""
    import torch

    ws = copy_workspace(reference, tmp_path / "ws", PREPARED)
    env = child_env(tmp_path, KILL_AT_CHECKPOINT="2")
    killed(spawn(python(KILL_IN_CHECKPOINT, *STAGE_ARGS, "--workspace", str(ws)), ws, tmp_path,
                 "kill", env=env))

    assert not (ws / MODEL).exists()
    state = torch.load(ws / CHECKPOINTS / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1  # the previous checkpoint, whole
    [stray] = strays(ws)
    assert stray.parent == ws / CHECKPOINTS and stray.name.startswith(".checkpoint.pt.tmp-")

    [log] = succeed(spawn(stage("train", *STAGE_ARGS, "--workspace", str(ws)), ws, tmp_path,
                          "resume"))
    assert "at epoch 1" in log and "resumed from" in log
    assert strays(ws) == [] and not (ws / CHECKPOINTS).exists()
    assert model_files(ws / MODEL) == model_files(reference / MODEL)
    assert (ws / CURVE).read_bytes() == (reference / CURVE).read_bytes()


# ---- 3. augment sample of a large file -------------------------------------------------
ROWS = "setosa=30000,versicolor=18000,virginica=12000"  # 60k rows: a 2.6 MB CSV
KILL_IN_SAMPLE_WRITE = '''
import augment.data.storage as storage
real = storage.write_labelled
def write_labelled(path, X, y, target):  # cli.py imports it at call time
    half = len(y) // 2
    real(path, X.iloc[:half], y[:half], target)  # half the rows reached the disk
    die()
storage.write_labelled = write_labelled
from augment.cli import main
main(sys.argv[1:])
'''
KILL_BETWEEN_SAMPLES_AND_COUNTS = '''
import contextlib
import augment.io
real_json, real_atomic = augment.io.write_json, augment.io.atomic_file
def write_json(path, payload):  # cli.py imports both at call time
    real_json(path, payload)
    die()  # the counts file is in place
@contextlib.contextmanager
def atomic_file(path):
    with real_atomic(path) as tmp:
        yield tmp
    die()  # the samples file (or the counts file, through write_json) is in place
augment.io.write_json, augment.io.atomic_file = write_json, atomic_file
from augment.cli import main
main(sys.argv[1:])
'''
def sample_args(model: Path, out: Path, seed: str = "2") -> list[str]:
    return ["sample", "--model", str(model), "--counts", ROWS, "--seed", seed, "--out", str(out)]


@pytest.fixture(scope="module")
def samples(reference, tmp_path_factory) -> tuple[Path, Path]:
    """(old, ref): old/samples.csv sampled with seed 1; ref/samples.{csv,parquet} with
    seed 2, the uninterrupted run the killed ones are compared with. One process."""
    tmp = tmp_path_factory.mktemp("samples")
    old, ref = tmp / "old", tmp / "ref"
    old.mkdir()
    ref.mkdir()
    model = reference / MODEL
    succeed(spawn(mains(("augment.cli", sample_args(model, old / "samples.csv", seed="1")),
                        *(("augment.cli", sample_args(model, ref / name))
                          for name in ("samples.csv", "samples.parquet"))), tmp, tmp, "samples"))
    return old, ref


@pytest.mark.slow
def test_kill_inside_augment_sample_write(reference, samples, tmp_path):
    """Killed halfway through writing 60k rows: --out is absent, or the previous file."""
    model, run, ref = reference / MODEL, tmp_path / "run", samples[1]
    shutil.copytree(samples[0], run)
    old, new = run / "samples.csv", run / "samples.parquet"
    before = files(run)  # samples.csv (seed 1) and its counts file
    killed(*(spawn(python(KILL_IN_SAMPLE_WRITE, *sample_args(model, out)), tmp_path, tmp_path,
                   f"kill-{out.suffix[1:]}") for out in (old, new)))

    after, expected = visible(run), files(ref)
    assert after.pop(old.name) == before[old.name] and not new.exists()  # --out: old or none
    # cmd_sample writes a counts file before its samples (so a rerun knows the path is its
    # own): each is the previous one or this run's, never cut short
    for name, data in after.items():
        assert name.endswith(".counts.json") and data in (before.get(name), expected[name])
    assert sorted(p.name.split(".tmp-")[0] for p in strays(run)) == [".samples.csv", ".samples.parquet"]

    succeed(spawn(mains(*(("augment.cli", sample_args(model, out)) for out in (old, new))),
                  tmp_path, tmp_path, "rerun"))
    assert strays(tmp_path) == []
    assert files(run) == files(ref)  # samples and counts files, both formats


def test_kill_between_samples_file_and_its_counts_file(reference, samples, tmp_path):
    """Killed once the first of samples.csv and samples.csv.counts.json is in place: the
    rerun (no --force) must still replace what the killed run left. (Written samples first,
    the kill left a samples file without its counts file, which the rerun refused as
    foreign; cmd_sample now writes the counts file first.)"""
    model, out = reference / MODEL, tmp_path / "run" / "samples.csv"
    out.parent.mkdir()
    killed(spawn(python(KILL_BETWEEN_SAMPLES_AND_COUNTS, *sample_args(model, out)), tmp_path,
                 tmp_path, "kill"))
    assert len(visible(out.parent)) == 1  # one of the two files
    rc, log = finish(spawn([sys.executable, "-m", "augment.cli", *sample_args(model, out)],
                           tmp_path, tmp_path, "rerun"))
    assert rc == 0, log
    assert files(out.parent) == {k: v for k, v in files(samples[1]).items() if ".csv" in k}


# ---- 4. validate and publish stages ----------------------------------------------------
KILL_IN_GATE_SAVE = '''
from augment.validate.verdict import GateReport
real = GateReport.save
def save(self, folder):  # the last file run_gate writes into its temporary folder
    cut_and_die(real(self, folder))
GateReport.save = save
from pipelines.validate import main
main(sys.argv[1:])
'''
KILL_IN_WRITE_AUGMENTED = '''
import augment.publish
real = augment.publish.write_augmented
def write_augmented(folder, data, target, manifest):
    written = real(folder, data, target, manifest)
    cut_and_die(folder / written["data_file"])
augment.publish.write_augmented = write_augmented  # before pipelines.publish imports it
from pipelines.publish import main
main(sys.argv[1:])
'''


def test_kill_inside_validate_and_publish_stages(reference, tmp_path):
    """Killed inside GateReport.save and inside write_augmented: the gate report and the
    published folder are the previous ones (or absent), and a rerun writes the same bytes."""
    gate_ws = copy_workspace(reference, tmp_path / "gate", PREPARED, SYNTHETIC, GATE, GATE_METRICS)
    touch_up(gate_ws / GATE / "gate.json")
    pub_fresh = copy_workspace(reference, tmp_path / "pub-fresh", PREPARED, SYNTHETIC, GATE)
    pub_again = copy_workspace(reference, tmp_path / "pub-again", PREPARED, SYNTHETIC, GATE, PUBLISHED)
    touch_up(pub_again / PUBLISHED / "manifest.json")
    gate_before, metrics_before = files(gate_ws / GATE), (gate_ws / GATE_METRICS).read_bytes()
    published_before = files(pub_again / PUBLISHED)
    pub_args = ["--dataset", DATASET, "--workspace"]
    killed(spawn(python(KILL_IN_GATE_SAVE, *STAGE_ARGS, "--workspace", str(gate_ws)), gate_ws,
                 tmp_path, "kill-validate"),
           *(spawn(python(KILL_IN_WRITE_AUGMENTED, *pub_args, str(ws)), ws, tmp_path,
                   f"kill-{ws.name}") for ws in (pub_fresh, pub_again)))

    assert files(gate_ws / GATE) == gate_before
    assert (gate_ws / GATE_METRICS).read_bytes() == metrics_before
    assert not (pub_fresh / PUBLISHED).exists()
    assert files(pub_again / PUBLISHED) == published_before
    assert [p.parent for p in strays(gate_ws)] == [(gate_ws / GATE).parent]
    for ws in (pub_fresh, pub_again):
        assert [p.parent for p in strays(ws)] == [(ws / PUBLISHED).parent]

    succeed(spawn(mains(stage_call("validate", gate_ws), stage_call("publish", pub_fresh, False),
                        stage_call("publish", pub_again, False)), tmp_path, tmp_path, "rerun"))
    assert strays(gate_ws) == strays(pub_fresh) == strays(pub_again) == []
    assert gate_files(gate_ws / GATE) == gate_files(reference / GATE)
    assert (gate_ws / GATE_METRICS).read_bytes() == (reference / GATE_METRICS).read_bytes()
    for ws in (pub_fresh, pub_again):  # manifest.json included: no clock, no random id
        assert files(ws / PUBLISHED) == files(reference / PUBLISHED)


# ---- 5. dvc repro ----------------------------------------------------------------------
def git_dvc_repo(root: Path, params: dict, tmp: Path) -> Path:
    """A git+DVC project like the repository: code, dvc.yaml, params; one commit."""
    root.mkdir(parents=True)
    for name in ("augment", "pipelines"):  # stage commands run the repo's own copy
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"],
                    ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
        subprocess.run(command, cwd=root, env=child_env(tmp), check=True, capture_output=True)
    return root


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.log.read_text(errors="replace"):  # type: ignore[attr-defined]
        assert proc.poll() is None, f"ended before {text!r}:\n{finish(proc)[1][-4000:]}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s"
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies waiting to be reaped aside)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def lock_outs(repo: Path) -> dict[str, list]:
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {name: [(o["path"], o["md5"]) for o in s.get("outs", [])] for name, s in stages.items()}


@pytest.mark.slow
def test_killed_dvc_repro_recovers_to_the_same_outputs(tmp_path):
    """SIGKILL the whole `dvc repro` process group mid-fit; the next `dvc repro` completes
    and its outputs equal an uninterrupted repro's in an identical repository."""
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["train"][FAMILY]["epochs"] = 6  # the kill after epoch 2 lands well before the save
    killed_repo = git_dvc_repo(tmp_path / "killed", params, tmp_path)
    clean_repo = tmp_path / "clean"  # same files, same commit (the manifest records it)
    shutil.copytree(killed_repo, clean_repo, symlinks=True)
    repro = [str(BIN / "dvc"), "repro", f"publish@{DATASET}"]
    clean = spawn(repro, clean_repo, tmp_path, "clean")
    first = spawn(repro, killed_repo, tmp_path, "killed", session=True)
    wait_for_line(first, f"fit {FAMILY} epoch 2/6")  # the train stage's log, mid-fit
    os.killpg(first.pid, signal.SIGKILL)  # dvc, its shell and the stage's python
    assert first.wait(timeout=30) == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while group_alive(first.pid):
        assert time.monotonic() < deadline, "the killed stage is still running"
        time.sleep(0.1)
    assert not (killed_repo / MODEL).exists()  # never half a model
    assert "train@iris-vae" not in lock_outs(killed_repo)

    succeed(spawn(repro, killed_repo, tmp_path, "again"), clean)
    assert strays(killed_repo) == []
    for part in (PREPARED, SYNTHETIC, PUBLISHED):
        assert files(killed_repo / part) == files(clean_repo / part), part
    assert model_files(killed_repo / MODEL) == model_files(clean_repo / MODEL)
    assert gate_files(killed_repo / GATE) == gate_files(clean_repo / GATE)
    outs, expected = lock_outs(killed_repo), lock_outs(clean_repo)
    assert outs.keys() == expected.keys()
    # The model's config.json holds the fit's clock and the gate folder GX's random ids, so
    # their folder hashes differ between any two runs; every other out is byte-identical.
    for name in outs.keys() - {f"train@{DATASET}-{FAMILY}", f"validate@{DATASET}-{FAMILY}"}:
        assert outs[name] == expected[name], name


# ---- 6. concurrent Airflow runs, one workspace -----------------------------------------
def lock_held(repo: Path) -> bool:
    """Whether some process (this one included) holds the workspace's publish lock."""
    path = repo / ".dvc" / "tmp" / "augment-publish.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file: conflicts even here
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


HOLD_LOCK = '''
from augment.publish import workspace_lock
with workspace_lock(sys.argv[1]):
    print("held", flush=True)
    import time; time.sleep(120)
'''


def test_workspace_lock_waits_names_its_holder_and_dies_with_it(tmp_path):
    from augment.errors import AugmentError
    from augment.publish import workspace_lock

    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    with workspace_lock(repo) as path, workspace_lock(repo):  # re-entrant in one thread
        assert path == repo.resolve() / ".dvc/tmp/augment-publish.lock" and lock_held(repo)
        refused: list[Exception] = []

        def other_thread() -> None:
            try:
                with workspace_lock(repo, timeout=0.3):
                    pass
            except AugmentError as err:
                refused.append(err)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(refused) == 1 and str(os.getpid()) in str(refused[0])
    assert not lock_held(repo)

    holder = spawn(python(HOLD_LOCK, str(repo)), tmp_path, tmp_path, "holder")
    try:
        wait_for_line(holder, "held")
        start = time.monotonic()
        with (pytest.raises(AugmentError, match=rf"held by pid {holder.pid}\) for over 1 s"),
              workspace_lock(repo, timeout=1)):
            pass
        assert time.monotonic() - start >= 1
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel drops a dead holder's lock
        holder.wait()
    start = time.monotonic()
    with workspace_lock(repo, timeout=10):
        assert time.monotonic() - start < 1


def test_publish_version_holds_the_lock_for_every_git_and_dvc_call(tmp_path, monkeypatch):
    """From the `dvc status` check to the push, with git and DVC stubbed out."""
    import augment.publish as publish

    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    manifest = repo / "data/published/t/manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"gate": {"passed": True}, "content_hash": "abc"}))
    calls: list[tuple[str, str, bool]] = []

    def tool(name: str):
        def run(_repo, *args: str) -> str:
            calls.append((name, args[0], lock_held(repo)))
            return {"status": "{}", "diff": "dvc.lock", "remote": "local"}.get(args[0], "")
        return run

    monkeypatch.setattr(publish, "_git", tool("git"))
    monkeypatch.setattr(publish, "_dvc", tool("dvc"))
    assert publish.publish_version("t", repo=str(repo)) == "t-v1"
    assert {what for _, what, _ in calls} >= {"status", "tag", "add", "commit", "push"}
    assert all(held for *_, held in calls), calls
    assert not lock_held(repo)


DAG_COMMIT_PROBE = '''
import fcntl, json, subprocess
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import augment_dataset
import augment.publish
ws = Path(sys.argv[1])
lock = ws / ".dvc" / "tmp" / "augment-publish.lock"
def held():
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
seen = []
def run(cmd, *args, **kwargs):
    seen.append([" ".join(map(str, cmd[-4:])), held()])
    return subprocess.CompletedProcess(cmd, 0, "", "")
subprocess.run = run
def publish_version(dataset, repo=".", push=True):
    seen.append(["tag", held()])
    return "iris-v1"
augment.publish.publish_version = publish_version
augment_dataset.version_published(ws, "iris")
print("SEEN " + json.dumps(seen))
'''


def test_dag_commits_dvc_lock_under_the_workspace_lock(tmp_path):
    """The DAG runs `dvc commit publish@<ds>` before publish_version: it must hold the lock
    across both, or another run's git commit or dvc push can collide with its commit."""
    ws = tmp_path / "ws"
    (ws / ".dvc").mkdir(parents=True)
    env = child_env(tmp_path, AIRFLOW_HOME=str(tmp_path / "airflow"),
                    AIRFLOW__CORE__LOAD_EXAMPLES="False")
    [log] = succeed(spawn(python(DAG_COMMIT_PROBE, str(ws), str(DAGS)), tmp_path, tmp_path,
                          "probe", env=env))
    seen = json.loads(log.split("SEEN ", 1)[1].splitlines()[0])
    assert [held for _, held in seen] == [True, True], seen  # dvc commit, then the tag


DAG_RUN = '''
import json
from pathlib import Path
from airflow.dag_processing.dagbag import DagBag
dags = Path(sys.argv[2])
bag = DagBag(dag_folder=str(dags))
dag = bag.get_dag("augment_dataset")
run = dag.test(run_conf=json.loads(sys.argv[1]))
states = {ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
          for ti in run.get_task_instances()}
from airflow.models.asset import AssetEvent
from airflow.utils.session import create_session
with create_session() as session:
    events = [(e.asset.uri, dict(e.extra)) for e in
              session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)]
print("RESULT " + json.dumps({"state": str(run.state), "states": states, "events": events}))
'''
DAG_DATASETS = ("iris", "breast_cancer", "digits")


def airflow_env(tmp: Path, home: Path) -> dict[str, str]:
    """Settings of an Airflow home; the database named too (airflow.cfg records its path)."""
    return child_env(tmp, AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
                     AIRFLOW__CORE__LOAD_EXAMPLES="False",
                     AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}")


def versioned_workspace(root: Path, tmp: Path) -> Path:
    """The repository's params.yaml with iris added, as a git+DVC repo with a remote.

    breast_cancer keeps 4 of its 30 columns: the GX suite runs expectations per column and
    takes most of a run's time; the runs check the plumbing, not the models.
    """
    from sklearn.datasets import load_breast_cancer

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["datasets"]["iris"] = {"source": "builtin:iris", "target": "target"}
    params["datasets"]["breast_cancer"]["drop"] = [str(c) for c in load_breast_cancer().feature_names[4:]]
    params["pipeline"]["datasets"] = list(DAG_DATASETS)  # dvc.yaml's publish@<ds> stages
    repo = git_dvc_repo(root, params, tmp)
    for command in ([str(BIN / "dvc"), "remote", "add", "-d", "local", str(tmp / "remote")],
                    ["git", "commit", "-qam", "remote"]):
        subprocess.run(command, cwd=repo, env=child_env(tmp), check=True, capture_output=True)
    return repo


@pytest.mark.slow
def test_concurrent_dag_runs_in_one_workspace_publish_three_versions(tmp_path):
    """Three `dag.test()` runs at once, one dataset each, in one workspace: train/sample/
    validate of different datasets write different paths, and publishing (dvc commit, git
    commit, tag, dvc push) is serialised by the workspace lock.

    Each run has its own copy of one migrated Airflow home: concurrent `dag.test()` calls
    on one fresh SQLite database race to register the DAG bundle (UNIQUE constraint failed:
    dag_bundle.name), an Airflow matter, not the workspace's.
    """
    home = tmp_path / "airflow"
    for command in (["db", "migrate"], ["pools", "set", "dvc_writer", "1", "one DVC writer"]):
        done = subprocess.run([str(BIN / "airflow"), *command], env=airflow_env(tmp_path, home),
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    ws = versioned_workspace(tmp_path / "ws", tmp_path)
    runs = []
    for dataset in DAG_DATASETS:
        env = airflow_env(tmp_path, shutil.copytree(home, tmp_path / f"airflow-{dataset}"))
        conf = {"dataset": dataset, "generators": [FAMILY], "profile": "tiny", "policy": "ratio",
                "ratio": 0.5, "workspace": str(ws),
                "overrides": {"validate": SMOKE_GATE,
                              "evaluate": {"table_classifiers": ["random_forest"]}}}
        runs.append(spawn(python(DAG_RUN, json.dumps(conf), str(DAGS)), tmp_path, tmp_path,
                          f"dag-{dataset}", env=env))
    events = {}
    for dataset, log in zip(DAG_DATASETS, succeed(*runs), strict=True):
        result = json.loads(log.split("RESULT ", 1)[1].splitlines()[0])
        assert result["state"] == "success", (dataset, result["states"])
        states = result["states"]  # the other families' branches skip at their train task
        ours = {task: state for task, state in states.items()
                if "." not in task or task.startswith(f"{FAMILY}.")}
        assert set(ours.values()) == {"success"}, (dataset, states)
        assert {state for task, state in states.items() if task not in ours} <= {"skipped"}, states
        events[dataset] = result["events"]

    from augment.publish import load_augmented

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ws, env=child_env(tmp_path), check=True,
                              capture_output=True, text=True).stdout

    assert sorted(git("tag").split()) == sorted(f"{ds}-v1" for ds in DAG_DATASETS)
    assert {f"Publish {ds}-v1" for ds in DAG_DATASETS} <= set(git("log", "--format=%s").splitlines())
    for dataset in DAG_DATASETS:
        manifest = json.loads((ws / "data/published" / dataset / "manifest.json").read_text())
        [(uri, extra)] = events[dataset]
        assert uri == f"augment://published/{dataset}" and extra["version"] == f"{dataset}-v1"
        assert extra["content_hash"] == manifest["content_hash"]
        loaded = load_augmented(dataset, 1, repo=str(ws))
        assert loaded.manifest["content_hash"] == manifest["content_hash"]
        assert int(loaded.synthetic.sum()) == manifest["rows"]["synthetic"] > 0
        # nothing crossed between the datasets' paths: each artifact is its own dataset's
        info = json.loads((ws / "data/prepared" / dataset / "info.json").read_text())
        model = json.loads((ws / "models" / dataset / FAMILY / "config.json").read_text())
        assert manifest["dataset"] == dataset and manifest["raw_fingerprint"] == info["fingerprint"]
        assert model["classes"] == info["classes"] and manifest["generators"] == [FAMILY]
        assert (ws / "reports" / dataset / "index.html").is_file()
    for lock in (yaml.safe_load((ws / "dvc.lock").read_text()), yaml.safe_load(git("show", "HEAD:dvc.lock"))):
        assert {f"publish@{ds}" for ds in DAG_DATASETS} <= set(lock["stages"])
    assert git("status", "--porcelain", "--untracked-files=no") == ""
    assert "augment-publish.lock" not in git("status", "--porcelain")  # in .dvc/tmp: ignored
    assert strays(ws) == []
