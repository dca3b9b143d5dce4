"""End to end through real DVC and git in a temporary repository, with tiny params."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import copy_project, tiny_pipeline, tool_env
from test_dvc_deps import dvc_stages, import_closure, stage_module

ROOT = Path(__file__).resolve().parents[1]
# Family defaults as the repo's params.yaml spells them out.
DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]


def with_family_defaults(params: dict) -> dict:
    """`params` with each family's full defaults under its tiny overrides, as in the repo's
    params.yaml: `dvc exp run -S train.<family>.<key>=...` only sets keys that exist."""
    train = params["train"]
    for family in params["pipeline"]["generators"]:
        train[family] = {**DEFAULTS[family], **train[family]}
    return params


TINY = with_family_defaults(
    tiny_pipeline({"iris": {"source": "builtin:iris", "target": "target"}}, ["vae", "gan"]))


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
    copy_project(repo)
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
    # Both gates scored the same real rows: the second reused the first's real-only refits.
    assert len(list((repo / ".cache/utility").glob("*.npy"))) == 1

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


@pytest.mark.slow
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
    original = yaml.safe_load((repo / "params.yaml").read_text())
    params = copy.deepcopy(original)
    params["validate"]["max_detection_auc"] = 0.0  # nothing can pass
    write_params(repo, params)
    try:
        out = run(["dvc", "repro"], repo, tmp, check=False)
    finally:  # the module's later tests share this repository
        write_params(repo, original)
    assert out.returncode != 0
    assert "nothing published (no generator passed its gate)" in out.stderr + out.stdout
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
    stale = (repo / ".checkpoints/iris/vae/checkpoint.pt").exists()  # if it got that far
    params["train"]["vae"]["epochs"] = 2  # other params: the killed run's checkpoint is stale
    write_params(repo, params)
    done = run([sys.executable, "-m", "pipelines.train", "--dataset", "iris", "--generator", "vae"],
               repo, tmp)
    assert ("training from scratch" in done.stderr) == stale
    assert (target / "weights.safetensors").is_file()
    assert not (repo / ".checkpoints/iris/vae").exists()


def exp_run(repo: Path, tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["dvc", "exp", "run", *args], repo, tmp, check=check)


def experiment_params(repo: Path, tmp: Path, name: str) -> dict:
    """params.yaml of experiment `name` (run or queued), as `dvc exp show` reports it."""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo, tmp).stdout)
    for rev in shown:
        for exp in rev.get("experiments") or []:
            if exp["name"] == name:
                return exp["revs"][0]["data"]["params"]["params.yaml"]["data"]
    raise AssertionError(f"experiment {name!r} not in `dvc exp show`")


@pytest.mark.slow
def test_experiments_run_and_compare(repo):
    """`dvc exp run -S` sets a family key that the tiny params do not override (it exists
    only because params spell out every default), and the result lands in the workspace."""
    repo, tmp = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["validate"]["max_detection_auc"] = 1.0
    params["train"]["vae"]["epochs"] = 2
    params["train"]["diffusion"] = dict(DEFAULTS["diffusion"])  # train section only
    write_params(repo, params)
    run(["dvc", "repro"], repo, tmp)
    run(["git", "add", "-A"], repo, tmp)
    run(["git", "commit", "-qm", "baseline"], repo, tmp)

    # diffusion is not in the pipeline: queue an experiment (-S is applied and stored, no
    # stage runs), read its params back, drop it. A key absent from params.yaml is refused
    # ("not in struct"): what every key of an empty `train.<family>: {}` used to hit.
    exp_run(repo, tmp, "--queue", "-S", "train.diffusion.guidance_scale=2.0",
            "-S", "train.diffusion.ddim_steps=10", "-n", "diffusion-keys")
    queued = experiment_params(repo, tmp, "diffusion-keys")["train"]["diffusion"]
    assert queued["guidance_scale"] == 2.0 and queued["ddim_steps"] == 10  # null default too
    run(["dvc", "queue", "remove", "diffusion-keys"], repo, tmp)
    refused = exp_run(repo, tmp, "--queue", "-S", "train.diffusion.no_such_key=1", check=False)
    assert refused.returncode != 0 and "not in struct" in refused.stdout + refused.stderr

    exp_run(repo, tmp, "-S", "sample.ratio=1.0", "-S", "train.vae.lr=0.002",
            "-S", "train.gan.critic_lr=0.0008", "-n", "ratio-one")
    trained = experiment_params(repo, tmp, "ratio-one")["train"]
    assert trained["vae"]["lr"] == 0.002 and trained["gan"]["critic_lr"] == 0.0008
    # the experiment's result is in the workspace: params, models and published rows
    applied = yaml.safe_load((repo / "params.yaml").read_text())["train"]
    assert applied["vae"]["lr"] == 0.002 and applied["gan"]["critic_lr"] == 0.0008
    assert applied["diffusion"] == DEFAULTS["diffusion"]  # the queued one was dropped
    for family, key, value in (("vae", "lr", 0.002), ("gan", "critic_lr", 0.0008)):
        saved = json.loads((repo / f"models/iris/{family}/config.json").read_text())
        assert saved["config"][key] == value
    manifest = json.loads((repo / "data/published/iris/manifest.json").read_text())
    assert manifest["rows"]["synthetic"] == 90


def test_gate_figures_are_dvc_metrics(repo):
    """validate writes metrics/gates/<ds>/<gen>.json; dvc.yaml declares it a metric."""
    repo, tmp = repo
    run(["dvc", "repro"], repo, tmp)
    assert (repo / "metrics/gates/iris/vae.json").is_file()
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo, tmp).stdout)
    files = next(iter(shown.values()))["data"]
    gate = files["metrics/gates/iris/vae.json"]["data"]
    assert any("detection_auc" in key for key in gate), sorted(gate)


def changed_stages(repo: Path, tmp: Path) -> set[str]:
    out = run(["dvc", "status", "--json"], repo, tmp)
    return {name.split(":")[-1] for name in json.loads(out.stdout or "{}")}


# A touched module -> stages it must outdate and stages it must not (the intent of the
# deps), on top of the exact set its import closure predicts.
TRAIN = {"train@iris-vae", "train@iris-gan"}
SAMPLE = {"sample@iris-vae", "sample@iris-gan"}
VALIDATE = {"validate@iris-vae", "validate@iris-gan"}
TOUCHES = [
    ("augment/data/transformers.py", {"prepare@iris", *TRAIN, *SAMPLE}, set()),
    ("augment/generators/vae.py", {*TRAIN, *SAMPLE}, set()),
    ("augment/validate/metrics.py", {*VALIDATE, *SAMPLE}, {"prepare@iris", *TRAIN}),  # filters
    ("pipelines/train.py", TRAIN, {"prepare@iris", *SAMPLE, *VALIDATE}),
    ("augment/report.py", {"report@iris"}, {"prepare@iris", *TRAIN, *SAMPLE, *VALIDATE,
                                            "publish@iris", "evaluate@iris"}),
    ("augment/templates/summary.html", {"report@iris"}, {*TRAIN, "evaluate@iris"}),
]


def test_code_change_outdates_the_stages_that_import_it(repo):
    """Append a comment to a module in the DVC repo: `dvc status` lists exactly the stages
    whose command imports it (statically, as tests/test_dvc_deps.py computes), no more."""
    repo, tmp = repo
    run(["dvc", "repro"], repo, tmp)
    assert changed_stages(repo, tmp) == set()
    names = run(["dvc", "stage", "list", "--name-only"], repo, tmp).stdout.split()
    stages = dvc_stages(repo)
    closures = {name: import_closure(stage_module(stage), repo) for name, stage in stages.items()}
    for module, outdated, untouched in TOUCHES:
        importers = {name for name, files in closures.items() if PurePosixPath(module) in files}
        expected = {n for n in names if n.split("@")[0] in importers}
        path = repo / module
        original = path.read_text()
        try:
            path.write_text(original + "\n# touched by test_dvc_pipeline\n")
            changed = changed_stages(repo, tmp)
        finally:
            path.write_text(original)
        assert outdated <= changed, f"{module}: {sorted(outdated - changed)} not outdated"
        assert not untouched & changed, f"{module}: {sorted(untouched & changed)} outdated"
        assert changed == expected, f"{module}: outdated {sorted(changed)}, imported by {sorted(expected)}"
    assert changed_stages(repo, tmp) == set()
