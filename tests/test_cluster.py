"""scripts/airflow-cluster end to end: CeleryExecutor, PostgreSQL, Redis and two Celery
workers with their own clones, sharing only origin.git and the DVC remote.

One run proves: the train tasks ran on both workers; a worker SIGKILLed in the middle of
`vae.train` had that task retried on the other worker, with the same weights as an
uninterrupted fit; the version was tagged in origin and loads by version from a third,
fresh folder; nothing the script started is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import tool_env

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "dags"))
from augment_params import SMOKE_GATE  # noqa: E402

DATASET = "breast_cancer"
# vae trains long enough (about 20-40 s) to be killed mid-fit; gan trains beside it.
CONF = {"dataset": DATASET, "generators": ["vae", "gan"], "profile": "tiny",
        "overrides": {"validate": SMOKE_GATE, "train": {"vae": {"epochs": 300}}}}


def own_processes(marker: str) -> list[str]:
    """Command lines of running processes that mention `marker` (the cluster's home)."""
    done = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines()
            if marker in line and not line.lstrip().startswith("Z")]


@pytest.mark.slow
def test_cluster_run_places_retries_and_publishes(tmp_path):
    # Not under pytest's private tmp folders: the postgres user must reach its data folder.
    home = Path(tempfile.mkdtemp(prefix="augment-cluster-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AUGMENT_"))}
    env |= tool_env(tmp_path) | {"AUGMENT_VENV": sys.prefix}
    try:
        start = time.perf_counter()
        done = subprocess.run([str(ROOT / "scripts/airflow-cluster"), "--home", str(home),
                               "--timeout", "900", "--conf", json.dumps(CONF),
                               "--kill-worker-during", "vae.train"],
                              capture_output=True, text=True, env=env, timeout=1500)
        print(f"airflow-cluster: {time.perf_counter() - start:.0f} s\n{done.stdout}")
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        assert own_processes(str(home)) == [], "the cluster is still running"

        tries = json.loads((home / "placement.json").read_text())
        worker = {(t["task_id"], t["try_number"]): t["hostname"].rsplit(":", 1)[-1] for t in tries}
        trains = {w for (task, _), w in worker.items() if task.endswith(".train")}
        assert trains == {"w1", "w2"}, tries  # train tasks ran on each worker
        vae = sorted((t for t in tries if t["task_id"] == "vae.train"), key=lambda t: t["try_number"])
        assert "killed worker" in done.stdout and len(vae) >= 2, vae
        assert vae[-1]["state"] == "success" and vae[0]["state"] != "success"
        assert worker[("vae.train", vae[-1]["try_number"])] != worker[("vae.train", 1)]

        # A third, fresh folder: the version by its tag, from origin and the DVC remote only.
        origin = home / "origin.git"
        tags = subprocess.run(["git", "ls-remote", "--tags", str(origin)], capture_output=True,
                              text=True, env=env).stdout
        assert f"refs/tags/{DATASET}-v1" in tags
        third = tmp_path / "third"
        third.mkdir()
        probe = ("import json, sys, dvc.api\n"
                 "from augment.publish import load_augmented\n"
                 f"data = load_augmented({DATASET!r}, 1, repo=sys.argv[1])\n"
                 f"weights = dvc.api.read('models/{DATASET}/vae/weights.safetensors', repo=sys.argv[1],"
                 f" rev='{DATASET}-v1', mode='rb')\n"
                 "open('weights.safetensors', 'wb').write(weights)\n"
                 "print(json.dumps({'hash': data.manifest['content_hash'],"
                 " 'synthetic': int(data.synthetic.sum()), 'generators': data.manifest['generators']}))\n")
        loaded = subprocess.run([sys.executable, "-c", probe, str(origin)], cwd=third, env=env,
                                capture_output=True, text=True)
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        facts = json.loads(loaded.stdout.strip().splitlines()[-1])
        assert facts["synthetic"] > 0 and facts["hash"]

        # The retried fit equals an uninterrupted one: the run's parameters, one thread.
        run_params = sorted(home.glob(f"workers/w*/workspace/.airflow/runs/{DATASET}/*.yaml"))[0]
        ref = tmp_path / "reference"
        ref.mkdir()
        shutil.copy(run_params, ref / "params.yaml")
        for stage in (["prepare"], ["train", "--generator", "vae"]):
            fit = subprocess.run([sys.executable, "-m", f"pipelines.{stage[0]}", "--dataset", DATASET,
                                  *stage[1:], "--workspace", str(ref)], cwd=ROOT,
                                 env=env | {"AUGMENT_THREADS": "1"}, capture_output=True, text=True)
            assert fit.returncode == 0, fit.stderr[-3000:]
        reference = (ref / f"models/{DATASET}/vae/weights.safetensors").read_bytes()
        assert (third / "weights.safetensors").read_bytes() == reference
    finally:
        shutil.rmtree(home, ignore_errors=True)
