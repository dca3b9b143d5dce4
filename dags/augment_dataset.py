"""Airflow 3 DAGs: augment one dataset with synthetic rows and publish what passes the gate.

    configure -> prepare -> [train -> sample -> validate] per generator -> select -> publish
      -> evaluate -> report

- `augment_dataset`: runs on a cron schedule ($AUGMENT_SCHEDULE, default weekly; "none"
  turns it off) and on demand with a conf, e.g.
  `airflow dags trigger augment_dataset -c '{"dataset": "digits", "profile": "tiny"}'`.
  Warm starts follow params.yaml's `train.warm_start` unless $AUGMENT_WARM_START or the
  run's `warm_start` says otherwise.
- `augment_dataset_raw_<ds>`, one per dataset of the workspace's params.yaml: runs when
  the asset `augment://raw/<ds>` gets an event (a new raw version was landed). New raw
  data is what a warm start is for: these runs start each model from the one of the latest
  published version (`warm_start` defaults to "previous").
- publish emits an event for `augment://published/<ds>` (through the asset alias
  `augment_published`) whose extra holds the version tag, git revision and content hash.

Tasks call pipelines/ with the run's `Workspace` (the folder with params.yaml, which owns
every artifact path; nothing changes the working directory) and pass paths and names
through XCom, never data. torch,
pandas, GX and the library are imported inside task bodies only, so parsing stays fast.
Every stage writes atomically and seeds come from the parameters, so a retry redoes the
same work; deterministic errors (bad parameters, a failed gate) fail at once instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetAlias, Param, TriggerRule, dag, task, task_group
from airflow.sdk.exceptions import AirflowFailException

# Airflow's own parsers put the DAG folder on sys.path; a plain DagBag (in a test) does not.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))
from augment_params import (  # noqa: E402
    WARM_START,
    default_workspace,
    run_params,
    warm_start_default,
    workspace_defaults,
    write_params,
)

log = logging.getLogger("augment.dags")

SCHEDULE = os.environ.get("AUGMENT_SCHEDULE", "@weekly")
DVC_POOL = "dvc_writer"  # size 1: one task at a time commits, tags and pushes with git/DVC
TRAIN_QUEUE = os.environ.get("AUGMENT_TRAIN_QUEUE", "default")  # e.g. "gpu" with Celery workers
RAW_URI = "augment://raw/{}"
PUBLISHED_URI = "augment://published/{}"
# The dataset is a run parameter, so the published asset is named at run time.
PUBLISHED = AssetAlias("augment_published")

DEFAULT_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,  # 30 s, then 60 s
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=6),
}
WORKSPACE = default_workspace()
DATASETS, GENERATORS = workspace_defaults(WORKSPACE)


def dag_params(dataset: str, warm_start: str | None = None) -> dict[str, Param]:
    """The run parameters, validated by Airflow before a run starts; `warm_start` is the
    default of the param of that name (None: params.yaml's train.warm_start)."""
    return {
        "dataset": Param(dataset, type="string", minLength=1,
                         description=f"a dataset of params.yaml ({', '.join(DATASETS)})"),
        "generators": Param(GENERATORS, type="array", items={"type": "string"}, minItems=1,
                            uniqueItems=True, description="generator families, one branch each"),
        "policy": Param(None, type=["null", "string"], enum=[None, "balance", "ratio", "counts", "auto"],
                        description="class-count policy (null: params.yaml)"),
        "ratio": Param(None, type=["null", "number"], minimum=0,
                       description="policy ratio: new rows per real row; policy balance: the "
                                   "share of the largest class to raise every class to"),
        "counts": Param(None, type=["null", "object"], additionalProperties={"type": "integer",
                                                                             "minimum": 0},
                        description="{class: rows} for policy counts"),
        "seed": Param(None, type=["null", "integer"], minimum=0,
                      description="training and sampling seed (null: params.yaml)"),
        "profile": Param("full", enum=["tiny", "full"],
                         description="tiny: 2 epochs, small batches, few diffusion steps"),
        "workspace": Param(str(WORKSPACE), type="string", minLength=1,
                           description="folder holding params.yaml; artifacts are written under it"),
        "require_all": Param(None, type=["null", "boolean"],
                             description="publish nothing unless every generator passes"),
        "warm_start": Param(warm_start, type=["null", "string"], enum=[None, *WARM_START],
                            description="previous: start each model from the one of the latest "
                                        "published version; none: from scratch (null: "
                                        "params.yaml train.warm_start)"),
        "overrides": Param({}, type="object", description="sections merged over params.yaml last"),
    }


@contextlib.contextmanager
def in_workspace(cfg: dict[str, Any]):
    """The run's (Workspace, params); bad input fails without retries."""
    from augment.errors import AugmentError
    from augment.workspace import Workspace
    from pipelines.params import load_params

    try:
        yield Workspace(cfg["workspace"]), load_params(cfg["params_file"])
    except AugmentError as err:
        raise AirflowFailException(str(err)) from err


def share_cores(cfg: dict[str, Any]) -> None:
    """Tell the torch tasks how many of them may run at once on this machine (at most
    Airflow's core.parallelism, at most one per generator branch), so each takes its share
    of the cores instead of all of them (`augment.threads`). $AUGMENT_THREADS or
    $AUGMENT_PARALLEL_TASKS set by the deployment win."""
    from airflow.configuration import conf

    parallel = max(1, min(conf.getint("core", "parallelism"), len(cfg["generators"])))
    os.environ.setdefault("AUGMENT_PARALLEL_TASKS", str(parallel))


def is_versioned(workspace: Path) -> bool:
    """A git work tree with DVC initialised: publishing there tags a version."""
    if not (workspace / ".dvc").is_dir():
        return False
    probe = subprocess.run(["git", "-C", str(workspace), "rev-parse", "--is-inside-work-tree"],
                           capture_output=True, text=True)
    return probe.returncode == 0 and probe.stdout.strip() == "true"


def version_published(workspace: Path, dataset: str, generators: list[str] | tuple[str, ...] = ()
                      ) -> str:
    """Record the published folder of `dataset` and the models of `generators` in dvc.lock,
    then tag and push it.

    The DAG runs the stages itself, not `dvc repro`, so dvc.lock must be told about the new
    outputs before the tag is made, or the tag would point at the previous data. The models
    (`train@<ds>-<gen>`, for the generators of dvc.yaml's matrix) go in too: the tag then
    records the models its rows came from, and a later warm start
    (`train.warm_start: previous`) reads them from there.
    """
    from augment.errors import AugmentError
    from augment.publish import publish_version, workspace_lock

    stages = [f"publish@{dataset}"]
    with workspace_lock(workspace):  # concurrent runs of other datasets commit one at a time
        if generators:
            listed = dvc(workspace, "stage", "list", "--name-only")
            known = set(listed.stdout.split()) if listed.returncode == 0 else set()
            stages += [name for g in generators if (name := f"train@{dataset}-{g}") in known]
        done = dvc(workspace, "commit", "--force", "--quiet", *stages)
        if done.returncode != 0:
            raise AugmentError(f"dvc commit {' '.join(stages)} failed (is {dataset} in params.yaml "
                               f"pipeline.datasets?): {done.stderr.strip()}")
        return publish_version(dataset, repo=str(workspace), push=True)


def dvc(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m dvc ARGS` in the workspace (this environment's dvc)."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True,
                          cwd=workspace)


@task
def configure(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Merge params.yaml with this run's parameters, check them, write the run's params file."""
    from augment.errors import AugmentError
    from augment.workspace import Workspace
    from pipelines.params import check_params, load_params

    assert params is not None and run_id is not None
    ws = Workspace(Path(params["workspace"]).expanduser().resolve())
    try:
        merged = run_params(load_params(ws.params_file), dict(params))
        dataset, generators = params["dataset"], merged["pipeline"]["generators"]
        check_params(merged, dataset, generators)  # names, keys and families fail before any work
        path = write_params(ws.run_params(dataset, run_id), merged)
    except AugmentError as err:
        raise AirflowFailException(f"bad parameters: {err}") from err
    workspace = ws.root
    log.info("run parameters: %s (profile %s, generators %s)", path, params["profile"], generators)
    return {"workspace": str(workspace), "params_file": str(path), "dataset": dataset,
            "generators": generators}


@task
def fan_out(cfg: dict[str, Any]) -> list[str]:
    """The generator names the per-generator branches are mapped over."""
    return cfg["generators"]


@task
def prepare(cfg: dict[str, Any]) -> str:
    from pipelines.prepare import prepare as run

    with in_workspace(cfg) as (ws, params):
        return str(run(ws, cfg["dataset"], params))


@task(queue=TRAIN_QUEUE)
def train(cfg: dict[str, Any], generator: str, prepared: str) -> str:
    from pipelines.train import train as run

    share_cores(cfg)
    with in_workspace(cfg) as (ws, params):
        log.info(run(ws, cfg["dataset"], generator, params))  # resumes from its checkpoints on a retry
        return str(ws.model(cfg["dataset"], generator))


@task
def sample(cfg: dict[str, Any], generator: str, model: str) -> str:
    from pipelines.sample import sample as run

    share_cores(cfg)
    with in_workspace(cfg) as (ws, params):
        log.info(run(ws, cfg["dataset"], generator, params))
        return str(ws.synthetic(cfg["dataset"], generator))


@task
def validate(cfg: dict[str, Any], generator: str, synthetic: str, ti=None) -> str:
    """Run the gate; a failing gate fails this task (no retry) with the summary in the log.

    The report folder is pushed (key "gate") before the verdict, so `select` reads the
    GateReport of every generator gated in this run, passed or not.
    """
    from pipelines.validate import run_validation

    with in_workspace(cfg) as (ws, params):
        report = run_validation(ws, cfg["dataset"], generator, params)
    ti.xcom_push(key="gate", value=str(report.folder))
    text = report.summary(f"{cfg['dataset']}/{generator}")
    if not report.passed:
        log.error(text)
        raise AirflowFailException(text)
    log.info(text)
    return generator


@task_group
def per_generator(generator: str, cfg: dict[str, Any], prepared: str):
    """One branch per generator: a failure here leaves the other branches running."""
    model = train(cfg, generator, prepared)
    return validate(cfg, generator, sample(cfg, generator, model))


def gated_this_run(ti, cfg: dict[str, Any]) -> dict[str, str]:
    """{generator: its gate report folder} for the generators gated in this run (a branch
    that failed before its gate has none; older reports on disk are ignored)."""
    generators = cfg["generators"]
    branches = list(range(len(generators)))  # map index i is generators[i]
    folders = ti.xcom_pull(task_ids="per_generator.validate", key="gate", map_indexes=branches)
    if not isinstance(folders, list):
        folders = [folders]
    return {g: folder for g, folder in zip(generators, folders, strict=True) if folder}


@task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
def select(cfg: dict[str, Any], branches: Any, ti=None) -> dict[str, Any]:
    """The generators to publish, by the library's `select` over this run's GateReports.

    Runs once every branch is done, failed or not (`branches` only orders it after them).
    Fails, publishing nothing, when none passed, or when `require_all` is set and any
    generator did not pass (a branch that failed before its gate counts as not passed).
    """
    from augment.errors import AugmentError
    from augment.validate.verdict import GateReport
    from augment.validate.verdict import select as choose
    from pipelines.params import publish_params

    gated = gated_this_run(ti, cfg)
    missing = [g for g in cfg["generators"] if g not in gated]
    with in_workspace(cfg) as (_, params):
        pp = publish_params(params)
        reports = {g: GateReport.load(folder) for g, folder in gated.items()}
    lost = [f"{cfg['dataset']}/{g}: no gate outcome (an earlier task of this branch failed)"
            for g in missing]
    if pp.require_all and missing:
        raise AirflowFailException("nothing published (require_all is set):\n" + "\n".join(lost))
    try:
        selection = choose(reports, pp.select, pp.require_all, dataset=cfg["dataset"])
    except AugmentError as err:
        raise AirflowFailException("\n".join([str(err), *lost])) from err
    for line in lost + [f"{cfg['dataset']}/{g}: gate failed" for g, r in reports.items() if not r.passed]:
        log.warning("not published: %s", line)
    log.info("publishing %s: %s", ", ".join(selection.chosen), selection.reason)
    return {"chosen": selection.chosen, "reason": selection.reason, "gated": gated}


@task(pool=DVC_POOL, outlets=[PUBLISHED])
def publish(cfg: dict[str, Any], selected: dict[str, Any], outlet_events=None) -> str:
    """Write the published folder; in a git+DVC workspace also tag and push a version."""
    import json

    from augment.publish import tag_revision
    from augment.validate.verdict import GateReport, Selection
    from pipelines.publish import publish_selection

    dataset, chosen = cfg["dataset"], selected["chosen"]
    with in_workspace(cfg) as (ws, params):
        # Exactly this run's selection and reports: older reports on disk may be stale.
        reports = {g: GateReport.load(folder) for g, folder in selected["gated"].items()}
        log.info(publish_selection(ws, dataset, params, reports,
                                   Selection(chosen, selected["reason"])))
        tag = None
        if is_versioned(ws.root):
            tag = version_published(ws.root, dataset, list(selected["gated"]))
            log.info("published version %s", tag)
        else:
            log.info("%s is not a git+DVC repository: published the folder only, no version tag",
                     ws.root)
        manifest_path = ws.manifest(dataset)
        manifest = json.loads(manifest_path.read_text())
        revision = tag_revision(tag, ws.root) if tag else manifest["git_revision"]
    outlet_events[PUBLISHED].add(Asset(PUBLISHED_URI.format(dataset)), extra={
        "dataset": dataset, "version": tag, "git_revision": revision,
        "content_hash": manifest["content_hash"], "generators": chosen,
        "manifest": str(manifest_path), "params_file": cfg["params_file"],
    })
    return str(manifest_path)


@task
def evaluate(cfg: dict[str, Any], manifest: str, ti=None) -> str:
    """Downstream scores: real-only vs each augmentation of this run, on the test split."""
    from pipelines.evaluate import evaluate as run

    with in_workspace(cfg) as (ws, params):
        # Only generators gated in this run: a failed branch may have left older files.
        params["pipeline"]["generators"] = list(gated_this_run(ti, cfg))
        log.info(run(ws, cfg["dataset"], params))
        return str(ws.downstream(cfg["dataset"]))


@task
def report(cfg: dict[str, Any], metrics: str, ti=None) -> str:
    """The dataset's HTML report from this run's artifacts."""
    from pipelines.report import report as run

    with in_workspace(cfg) as (ws, params):
        params["pipeline"]["generators"] = list(gated_this_run(ti, cfg))
        log.info(run(ws, cfg["dataset"], params))
        return str(ws.report_page(cfg["dataset"]))


def augment_pipeline() -> None:
    """The task graph, shared by every DAG of this file."""
    cfg = configure()
    prepared = prepare(cfg)
    outcomes = per_generator.partial(cfg=cfg, prepared=prepared).expand(generator=fan_out(cfg))
    report(cfg, evaluate(cfg, publish(cfg, select(cfg, outcomes))))


def build_dag(dag_id: str, schedule: Any, dataset: str, doc: str, warm_start: str | None = None):
    return dag(
        dag_id=dag_id,
        schedule=schedule,
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,  # runs of one DAG share the workspace's artifact paths
        default_args=DEFAULT_ARGS,
        params=dag_params(dataset, warm_start),
        tags=["augment"],
        doc_md=doc,
    )(augment_pipeline)()


augment_dataset = build_dag(
    "augment_dataset", None if SCHEDULE.lower() in ("", "none") else SCHEDULE, DATASETS[0],
    f"Augment a dataset on a schedule (`{SCHEDULE}`) or on demand with a conf.",
    warm_start_default())
for _name in DATASETS:
    globals()[f"augment_dataset_raw_{_name}"] = build_dag(
        f"augment_dataset_raw_{_name}", [Asset(RAW_URI.format(_name))], _name,
        f"Augment `{_name}` whenever the asset `{RAW_URI.format(_name)}` is updated, "
        "warm-starting from the latest published version.", "previous")
