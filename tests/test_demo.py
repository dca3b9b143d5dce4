"""`make demo` (pipelines/demo.py): the stages run in parallel as the stage graph allows,
recorded by `dvc commit`, as `dvc repro` would have (a file of its own, so pytest-xdist's
`--dist loadfile` can run it beside test_dvc_pipeline.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_project
from test_dvc_pipeline import TINY, run, stages_run, write_params

from augment.threads import available_cores


def demo_repo(tmp: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """A fresh git+DVC project with the tiny iris params, after `pipelines.demo --jobs 2`."""
    repo = tmp / "project"
    copy_project(repo)
    write_params(repo, TINY)
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "project"]):
        run(cmd, repo, tmp)
    return repo, run([sys.executable, "-m", "pipelines.demo", "--jobs", "2"], repo, tmp)


def test_demo_runs_the_stages_in_parallel_and_dvc_records_them(tmp_path):
    """pipelines.demo runs the stage commands itself, two branches at a time, then `dvc
    commit`: dvc.lock records every stage, `dvc repro` then has nothing to do, and the
    version is tagged."""
    tmp = tmp_path
    repo, out = demo_repo(tmp)
    assert stages_run(out.stdout) == {
        "prepare@iris", "publish@iris", "evaluate@iris", "report@iris",
        *(f"{stage}@iris-{g}" for stage in ("train", "sample", "validate") for g in ("vae", "gan"))}
    assert "versions: iris-v1" in out.stdout
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == stages_run(out.stdout)
    assert stages_run(run(["dvc", "repro"], repo, tmp).stdout) == set()
    cores = available_cores()
    assert f"torch threads: {max(1, cores // 2)} ({cores} cores)" in out.stdout
    bad = run([sys.executable, "-m", "pipelines.demo", "--jobs", "0"], repo, tmp, check=False)
    assert bad.returncode == 2 and "--jobs must be at least 1" in bad.stderr


@pytest.mark.slow
def test_dvc_repro_publishes_what_the_demo_published(tmp_path, monkeypatch):
    """`dvc repro --force` from scratch publishes the rows the parallel demo published,
    given the same torch threads per stage (their number changes the float reductions,
    so the trained weights)."""
    tmp = tmp_path
    repo, _ = demo_repo(tmp)
    manifest_file = repo / "data/published/iris/manifest.json"
    published = json.loads(manifest_file.read_text())["content_hash"]
    for folder in ("data", "models", "metrics", "reports", "plots"):
        shutil.rmtree(repo / folder, ignore_errors=True)
    monkeypatch.setenv("AUGMENT_PARALLEL_TASKS", "2")
    run(["dvc", "repro", "--force"], repo, tmp)
    assert json.loads(manifest_file.read_text())["content_hash"] == published


def test_demo_schedule_follows_the_stage_graph():
    """run_stages starts a stage only after what it depends on succeeded; a failed branch
    stops its dataset's publish and nothing of the other dataset; a command that cannot
    start is that stage's failure."""
    from pipelines import demo

    started: list[str] = []

    def fake(stage, args, env):
        name = f"{stage}@{args[1]}" + (f"-{args[3]}" if len(args) > 2 else "")
        started.append(name)
        assert env == {"AUGMENT_PARALLEL_TASKS": "2"}
        if name == "report@a":
            raise OSError("cannot start the command")
        return subprocess.CompletedProcess(args, int(name == "sample@b-gan"), "", "")

    done, failed = demo.run_stages(["a", "b"], ["vae", "gan"], 2, echo=lambda text: None,
                                   run_stage=fake)
    assert set(failed) == {"sample@b-gan", "report@a"} and "validate@b-gan" not in started
    assert "publish@b" not in started and {"validate@b-vae", "evaluate@a"} <= set(done)
    before = {"train": "prepare", "sample": "train", "validate": "sample"}
    for name in started:
        stage, rest = name.split("@")
        if stage in before:
            needed = f"prepare@{rest.split('-')[0]}" if stage == "train" else f"{before[stage]}@{rest}"
            assert started.index(needed) < started.index(name)
    assert started.index("validate@a-vae") < started.index("publish@a")
    assert started.index("validate@a-gan") < started.index("publish@a")
    assert started.index("publish@a") < started.index("evaluate@a") < started.index("report@a")


def test_stage_runner_gives_the_stage_exit_code_and_its_lines(tmp_path):
    """The forked stage reports as `python -m pipelines.<stage>` would: its exit code, its
    name in its lines, its stdout and stderr."""
    from pipelines import demo

    out = demo.stage_runner()("prepare", ["--dataset", "iris", "--workspace", str(tmp_path)], {})
    assert out.returncode == 2
    assert out.stdout == f"prepare: error: no parameter file {tmp_path / 'params.yaml'}\n"
