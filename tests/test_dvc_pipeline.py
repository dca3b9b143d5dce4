"""End to end through real DVC and git in a temporary repository, with tiny params."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import tiny_pipeline, tool_env

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_pipeline({"iris": {"source": "builtin:iris", "target": "target"}}, ["vae", "gan"])


def env(tmp: Path) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    return base | tool_env(tmp) | {"PYTHONPATH": ""}


def run(cmd: list[str], cwd: Path, tmp: Path, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env(tmp), capture_output=True, text=True, timeout=900)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("dvc")
    repo = tmp / "project"
    repo.mkdir()
    for name in ("augment", "pipelines"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    write_params(repo, TINY)
    run(["git", "init", "-q"], repo, tmp)
    run(["dvc", "init", "-q"], repo, tmp)
    run(["dvc", "remote", "add", "-d", "local", str(tmp / "remote")], repo, tmp)
    run(["git", "add", "-A"], repo, tmp)
    run(["git", "commit", "-qm", "project"], repo, tmp)
    return repo, tmp


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def test_repro_publish_and_load_by_version(repo):
    repo, tmp = repo
    first = run(["dvc", "repro"], repo, tmp)
    assert {"prepare@iris", "train@iris-vae", "train@iris-gan", "publish@iris",
            "evaluate@iris"} <= stages_run(first.stdout)
    manifest = json.loads((repo / "data/published/iris/manifest.json").read_text())
    assert manifest["gate"]["passed"] and manifest["generators"] in (["vae"], ["gan"])
    assert manifest["rows"]["synthetic"] == 45  # ratio 0.5 of 90 training rows
    assert len(manifest["raw_fingerprint"]) == 64 and manifest["git_revision"] != "unknown"
    metrics = json.loads((repo / "metrics/iris.json").read_text())
    assert {"real_only", "smote", "vae", "gan"} <= set(metrics["scores"])
    assert "stopped_by_gate" in metrics["gate_check"]
    assert (repo / "reports/iris/index.html").is_file()
    assert (repo / "plots/curves/iris/vae.json").is_file()

    second = run(["dvc", "repro"], repo, tmp)
    assert stages_run(second.stdout) == set()

    shown = run(["dvc", "metrics", "show", "--json"], repo, tmp)
    assert "macro_f1" in shown.stdout

    published = run([sys.executable, "-m", "augment.cli", "publish", "iris"], repo, tmp)
    assert "iris-v1" in published.stdout
    again = run([sys.executable, "-m", "augment.cli", "publish", "iris"], repo, tmp)
    assert "iris-v1" in again.stdout  # same content: no new version
    assert (tmp / "remote").is_dir()

    consumer = tmp / "consumer"
    consumer.mkdir()
    script = (
        "import json; from augment.publish import load_augmented\n"
        f"d = load_augmented('iris', 1, repo={str(repo)!r})\n"
        "print(json.dumps({'rows': len(d.y), 'synthetic': int(d.synthetic.sum()),"
        " 'gens': sorted(set(d.generator[d.synthetic].tolist())),"
        " 'manifest_rows': d.manifest['rows']}))\n"
    )
    out = run([sys.executable, "-c", script], consumer, tmp)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["synthetic"] == manifest["rows"]["synthetic"]
    assert loaded["rows"] == manifest["rows"]["real"] + manifest["rows"]["synthetic"]
    assert loaded["gens"] == manifest["generators"]

    # a published folder edited after `dvc repro` is not tagged: the tag would lie
    manifest_file = repo / "data/published/iris/manifest.json"
    original = manifest_file.read_text()
    manifest_file.write_text(original + " ")
    edited = run([sys.executable, "-m", "augment.cli", "publish", "iris"], repo, tmp, check=False)
    assert edited.returncode == 2 and "not what `dvc repro` recorded" in edited.stderr
    assert run(["git", "tag"], repo, tmp).stdout.split() == ["iris-v1"]
    manifest_file.write_text(original)


def test_params_change_reruns_only_that_branch(repo):
    repo, tmp = repo
    run(["dvc", "repro"], repo, tmp)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["gan"]["epochs"] = 3
    write_params(repo, params)
    out = run(["dvc", "repro"], repo, tmp)
    ran = stages_run(out.stdout)
    assert {"train@iris-gan", "sample@iris-gan", "validate@iris-gan"} <= ran
    assert not {"train@iris-vae", "sample@iris-vae", "validate@iris-vae", "prepare@iris"} & ran


def test_failing_gate_publishes_nothing(repo):
    repo, tmp = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["validate"]["max_detection_auc"] = 0.0  # nothing can pass
    write_params(repo, params)
    out = run(["dvc", "repro"], repo, tmp, check=False)
    assert out.returncode != 0
    assert "nothing published (no generator passed)" in out.stderr + out.stdout
    assert not (repo / "data/published/iris").exists()
    refused = run([sys.executable, "-m", "augment.cli", "publish", "iris"], repo, tmp, check=False)
    assert refused.returncode == 2 and "nothing to publish" in refused.stderr
    tags = run(["git", "tag", "--list", "iris-v*"], repo, tmp).stdout.split()
    assert tags in ([], ["iris-v1"])  # no version for the failed run


def test_killed_stage_leaves_no_partial_output(repo):
    repo, tmp = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["vae"]["epochs"] = 10_000  # long enough to be killed mid-fit
    write_params(repo, params)
    target = repo / "models/iris/vae"
    shutil.rmtree(target, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.train", "--dataset", "iris",
                             "--generator", "vae"], cwd=repo, env=env(tmp),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists()  # never half a model


def test_experiments_run_and_compare(repo):
    repo, tmp = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["validate"]["max_detection_auc"] = 1.0
    params["train"]["vae"]["epochs"] = 2
    write_params(repo, params)
    run(["dvc", "repro"], repo, tmp)
    run(["git", "add", "-A"], repo, tmp)
    run(["git", "commit", "-qm", "baseline"], repo, tmp)
    run(["dvc", "exp", "run", "-S", "sample.ratio=1.0", "-n", "ratio-one"], repo, tmp)
    shown = run(["dvc", "exp", "show", "--json"], repo, tmp)
    assert "ratio-one" in shown.stdout
    manifest = json.loads((repo / "data/published/iris/manifest.json").read_text())
    assert manifest["rows"]["synthetic"] == 90  # the experiment's result is in the workspace
