"""The Airflow DAGs: fast parsing, whole runs with `dag.test()`, the gate, a real scheduler.

`dag.test()` runs every task in this process against an Airflow home in a temporary
folder (SQLite, migrated first), on builtin data with the tiny profile, in temporary
workspaces. Airflow reads its settings when first imported, so it is imported only
inside the tests, after the `airflow_home` fixture has set the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent
sys.path.append(str(DAGS))
from augment_params import SMOKE_GATE, run_params, warm_start_default  # noqa: E402
from conftest import tool_env  # noqa: E402

DAG_IDS = {"augment_dataset", "augment_dataset_raw_digits", "augment_dataset_raw_breast_cancer"}


def isolated_env(tmp: Path) -> dict[str, str]:
    """Settings that keep Airflow, DVC and git away from the machine's own config."""
    return tool_env(tmp) | {
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "GX_ANALYTICS_ENABLED": "False",
    }


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    """A migrated Airflow home with the dvc_writer pool; the environment points at it."""
    assert "airflow" not in sys.modules, "Airflow was imported before its home was set"
    tmp = tmp_path_factory.mktemp("dags")
    env = isolated_env(tmp)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for key in ("AUGMENT_SCHEDULE", "AUGMENT_WORKSPACE", "AUGMENT_WARM_START"):  # DAG defaults
            patch.delenv(key, raising=False)
        for command in (["db", "migrate"], ["pools", "set", "dvc_writer", "1", "one DVC writer"]):
            done = subprocess.run([str(BIN / "airflow"), *command], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-2000:]
        yield tmp


def workspace(root: Path, versioned: bool = False) -> Path:
    """A folder with params.yaml; with `versioned`, a git+DVC repository like this one."""
    root.mkdir(parents=True)
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    if versioned:
        for name in ("augment", "pipelines"):  # the publish stage's code dependencies
            shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
            shutil.copy(ROOT / name, root / name)
        for command in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"],
                        [str(BIN / "dvc"), "remote", "add", "-d", "local", str(root.parent / "remote")],
                        ["git", "add", "-A"], ["git", "commit", "-qm", "project"]):
            subprocess.run(command, cwd=root, check=True, capture_output=True)
    return root


def run_dag(conf: dict, dag_id: str = "augment_dataset"):
    """dag.test() with `conf`; returns the finished run and {task (index): state}."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    start = time.perf_counter()
    run = bag.get_dag(dag_id).test(run_conf=conf)
    print(f"dag.test {conf.get('dataset')} {conf.get('generators')}: {time.perf_counter() - start:.1f} s")
    states = {ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
              for ti in run.get_task_instances()}
    return run, states


def asset_events(run_id: str) -> list:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run_id).all()
        return [(event.asset.uri, dict(event.extra)) for event in events]


def test_run_params_overlay_profile_conf_and_overrides():
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    conf = {"dataset": "digits", "generators": ["diffusion"], "profile": "tiny", "policy": "ratio",
            "ratio": 0.5, "seed": 7, "require_all": True,
            "overrides": {"validate": {"suite": {"kl_bins": 5}}}}
    merged = run_params(base, conf)
    assert merged["pipeline"] == {"datasets": ["digits"], "generators": ["diffusion"]}
    assert merged["train"]["seed"] == 7 and merged["train"]["diffusion"]["epochs"] == 2
    assert merged["train"]["diffusion"]["ddim_steps"] <= merged["train"]["diffusion"]["num_timesteps"]
    assert merged["sample"] == {**base["sample"], "policy": "ratio", "ratio": 0.5, "seed": 7}
    assert merged["datasets"]["digits"]["sample"]["policy"] == "ratio"  # beats per-dataset settings
    assert merged["publish"]["require_all"] is True
    assert merged["validate"]["suite"] == {**base["validate"]["suite"], "kl_bins": 5}
    assert merged["validate"]["max_detection_auc"] == base["validate"]["max_detection_auc"]
    full = run_params(base, {"dataset": "digits", "profile": "full"})
    assert full["train"] == base["train"] and full["sample"] == base["sample"]
    assert run_params(base, {"dataset": "digits", "warm_start": "previous"})["train"] == {
        **base["train"], "warm_start": "previous"}


def test_warm_start_default_comes_from_the_environment():
    assert warm_start_default({}) is None and warm_start_default({"AUGMENT_WARM_START": " "}) is None
    assert warm_start_default({"AUGMENT_WARM_START": "previous"}) == "previous"
    with pytest.raises(ValueError, match=r"\$AUGMENT_WARM_START must be one of previous, none"):
        warm_start_default({"AUGMENT_WARM_START": "sometimes"})


def test_dags_parse_fast_without_heavy_imports(airflow_home):
    """A cold process: DagBag finds every DAG, no import errors, parsing < 2 s, no torch/GX."""
    script = (
        "import json, sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "heavy = [m for m in ('torch', 'great_expectations', 'sklearn', 'augment.generators.base')"
        " if m in sys.modules]\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()},"
        " 'dags': sorted(bag.dag_ids), 'heavy': heavy,"
        " 'seconds': sum(s.duration.total_seconds() for s in bag.dagbag_stats)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"DAG files parsed in {result['seconds']:.3f} s")
    assert result["errors"] == {} and set(result["dags"]) >= DAG_IDS
    assert result["seconds"] < 2.0 and result["heavy"] == []


def test_dag_structure(airflow_home):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import TriggerRule

    bag = DagBag(dag_folder=str(DAGS))
    dag = bag.get_dag("augment_dataset")
    tasks = dag.task_dict
    families = ["autoregressive", "diffusion", "gan", "translation", "vae"]
    assert {"configure", "prepare", "select", "publish", "evaluate", "report"} <= set(tasks)
    for family in families:  # one static branch each, its draw tasks mapped over the shards
        assert {f"{family}.{step}" for step in ("train", "plan", "draw", "sample", "validate")
                } <= set(tasks)
        assert tasks[f"{family}.draw"].is_mapped and not tasks[f"{family}.train"].is_mapped
    assert tasks["publish"].pool == "dvc_writer"
    assert tasks["select"].trigger_rule == TriggerRule.ALL_DONE  # runs after failures
    train = tasks["vae.train"]
    assert train.retries == 2 and train.retry_exponential_backoff > 1
    assert dag.timetable.expression == "0 0 * * 0"  # @weekly, the default
    raw = bag.get_dag("augment_dataset_raw_digits")
    assert "augment://raw/digits" in str(raw.timetable.asset_condition)
    assert raw.params["dataset"] == "digits"
    assert dag.params["warm_start"] is None  # params.yaml's train.warm_start
    assert raw.params["warm_start"] == "previous"  # new raw data: start from the last version


def test_bad_conf_is_rejected_before_any_work(airflow_home):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        run_dag({"dataset": "digits", "profile": "huge"})
    ws = workspace(airflow_home / "bad")
    run, states = run_dag({"dataset": "digits", "generators": ["nope"], "workspace": str(ws)})
    assert str(run.state) == "failed" and states["configure"] == "failed"
    assert states["publish"] != "success" and not (ws / "data").exists()
    outside = airflow_home / "outside"  # a dataset name must not reach out of the workspace
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    before = sorted(p.name for p in airflow_home.iterdir())
    run, states = run_dag({"dataset": "../outside", "workspace": str(ws)})
    assert str(run.state) == "failed" and states["configure"] == "failed"
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]
    assert sorted(p.name for p in airflow_home.iterdir()) == before
    assert not (ws / "data").exists() and not (ws / ".airflow").exists()


def test_tiny_run_publishes_and_versions_breast_cancer(airflow_home):
    ws = workspace(airflow_home / "project", versioned=True)
    conf = {"dataset": "breast_cancer", "profile": "tiny", "workspace": str(ws),
            "overrides": {"validate": SMOKE_GATE}}
    run, states = run_dag(conf)
    assert str(run.state) == "success", states
    generators = yaml.safe_load((ROOT / "params.yaml").read_text())["pipeline"]["generators"]
    assert set(states.values()) == {"success"}, states
    assert {f"{g}.draw[0]" for g in generators} <= set(states)  # sample.shards: 1
    assert len(states) == 5 * len(generators) + 6

    manifest = json.loads((ws / "data/published/breast_cancer/manifest.json").read_text())
    assert manifest["gate"]["passed"] and manifest["rows"]["synthetic"] > 0
    assert manifest["params"]["train"][manifest["generators"][0]]["epochs"] == 2  # tiny profile
    assert (ws / "metrics/breast_cancer.json").is_file()
    assert (ws / "reports/breast_cancer/index.html").is_file()
    tags = subprocess.run(["git", "tag"], cwd=ws, capture_output=True, text=True).stdout.split()
    assert tags == ["breast_cancer-v1"]
    lock = yaml.safe_load(subprocess.run(["git", "show", "breast_cancer-v1:dvc.lock"], cwd=ws,
                                         capture_output=True, text=True).stdout)
    assert {f"train@breast_cancer-{g}" for g in generators} <= set(lock["stages"])
    revision = subprocess.run(["git", "rev-parse", "breast_cancer-v1^{commit}"], cwd=ws,
                              capture_output=True, text=True).stdout.strip()
    [(uri, extra)] = asset_events(run.run_id)
    assert uri == "augment://published/breast_cancer"
    assert extra["version"] == "breast_cancer-v1" and extra["git_revision"] == revision
    assert extra["content_hash"] == manifest["content_hash"]

    from augment.publish import load_augmented

    loaded = load_augmented("breast_cancer", 1, repo=str(ws))
    assert loaded.manifest["content_hash"] == manifest["content_hash"]
    assert int(loaded.synthetic.sum()) == manifest["rows"]["synthetic"]


@pytest.mark.slow
def test_tiny_run_publishes_digits_folder(airflow_home):
    ws = workspace(airflow_home / "digits")
    conf = {"dataset": "digits", "profile": "tiny", "workspace": str(ws),
            "overrides": {"validate": SMOKE_GATE}}
    run, states = run_dag(conf, dag_id="augment_dataset_raw_digits")
    assert str(run.state) == "success", states
    manifest = json.loads((ws / "data/published/digits/manifest.json").read_text())
    assert manifest["data_file"] == "augmented.npz" and manifest["rows"]["synthetic"] > 0
    [(uri, extra)] = asset_events(run.run_id)
    assert uri == "augment://published/digits" and extra["version"] is None  # not a git+DVC repo
    metrics = json.loads((ws / "metrics/digits.json").read_text())
    generators = yaml.safe_load((ROOT / "params.yaml").read_text())["pipeline"]["generators"]
    assert set(generators) <= set(metrics["scores"])


def test_failing_gate_publishes_nothing(airflow_home):
    ws = workspace(airflow_home / "gate")
    conf = {"dataset": "digits", "generators": ["vae"], "profile": "tiny", "workspace": str(ws),
            "overrides": {"validate": {"max_detection_auc": 0.0}}}
    run, states = run_dag(conf)
    assert str(run.state) == "failed", json.dumps(states)
    assert states["vae.validate"] == "failed" and states["select"] == "failed"
    assert states["gan.train"] == "skipped" and states["gan.validate"] == "skipped"
    assert states["publish"] == states["evaluate"] == states["report"] == "upstream_failed"
    assert not (ws / "data/published").exists() and asset_events(run.run_id) == []
    from augment.validate.verdict import GateReport

    gate = GateReport.load(ws / "reports/digits/gates/vae")
    assert not gate.passed and any("AUC" in failure for failure in gate.failures)
    assert not gate.check("detection_auc").passed and gate.check("detection_auc").threshold == 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes_with_env(entry: str) -> list[int]:
    """Ids of the processes whose environment holds `entry` (Linux /proc)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.mark.slow
def test_airflow_local_drives_the_real_scheduler(tmp_path):
    """scripts/airflow-local: scheduler + dag-processor + api-server, one run, clean stop."""
    home, port = tmp_path / "airflow", free_port()
    conf = {"dataset": "digits", "generators": ["vae", "gan"], "profile": "tiny",
            "overrides": {"validate": SMOKE_GATE}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {k: v for k, v in isolated_env(tmp_path).items() if not k.startswith("AIRFLOW")}
    env["AUGMENT_VENV"] = sys.prefix  # the script runs Airflow from this environment
    start = time.perf_counter()
    done = subprocess.run([str(ROOT / "scripts/airflow-local"), "--home", str(home), "--port", str(port),
                           "--timeout", "600", "--conf", json.dumps(conf)],
                          capture_output=True, text=True, env=env, timeout=900)
    print(f"airflow-local: {time.perf_counter() - start:.0f} s\n{done.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gan.train" in done.stdout and "published manifest:" in done.stdout
    assert (home / "workspace/data/published/digits/manifest.json").is_file()
    assert processes_with_env(f"AIRFLOW_HOME={home}") == [], "the local Airflow is still running"
    assert home.stat().st_mode & 0o777 == 0o700  # secrets are this user's alone
    passwords = home / "simple_auth_manager_passwords.json.generated"
    assert passwords.stat().st_mode & 0o077 == 0 and not (home / ".api-auth-header").exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the api-server is gone
