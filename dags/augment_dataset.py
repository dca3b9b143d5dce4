"""Airflow 3 DAGs: augment one dataset with synthetic rows and publish what passes the gate.

    configure -> prepare -> [train -> plan -> draw x shards -> sample -> validate] per family
      -> select -> publish -> evaluate -> report

One static branch (task group) per registered family; the families a run does not ask
for are skipped. A branch maps its `draw` task over `sample.shards` row ranges, and
`sample` gathers them: the same rows, byte for byte, as one shard.

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
every artifact path; nothing changes the working directory) and pass paths, names and
artifact references through XCom, never data. With $AUGMENT_ARTIFACTS=remote (several
machines: CeleryExecutor, KubernetesExecutor) each worker works in its own clone of the
data repository ($AUGMENT_WORKSPACE) and every task pulls its inputs from, and pushes its
outputs to, the DVC remote before it succeeds (pipelines/artifacts.py). torch,
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

from airflow.sdk import Asset, AssetAlias, Param, TaskGroup, TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

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

from augment.generators.registry import available_generators  # noqa: E402  (light: no torch)

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
FAMILIES = available_generators()  # one static branch each
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


def local_workspace(cfg: dict[str, Any]) -> Path:
    """This worker's copy of the run's workspace: with artifacts on the remote
    ($AUGMENT_ARTIFACTS=remote) each worker has its own clone, $AUGMENT_WORKSPACE;
    otherwise every task shares the run's `workspace`."""
    from pipelines.artifacts import mode

    return default_workspace() if mode() == "remote" else Path(cfg["workspace"])


def artifact_store(root: Path):
    """The remote's artifact store when tasks move their files through it, else None."""
    from pipelines.artifacts import Store, mode

    return Store.of_workspace(root) if mode() == "remote" else None


def sync_clone(root: Path, strict: bool = False) -> None:
    """Bring a worker's clone up to its origin (params.yaml, dvc.yaml, version tags) when
    it has one; a clone that cannot fast-forward is an error only when `strict`."""
    remotes = subprocess.run(["git", "-C", str(root), "remote"], capture_output=True, text=True)
    if "origin" not in remotes.stdout.split():
        return
    done = subprocess.run(["git", "-C", str(root), "pull", "-q", "--ff-only", "--tags", "origin"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        if strict:
            raise AirflowFailException(f"cannot bring {root} up to origin: {done.stderr.strip()}")
        log.warning("%s is not up to date with origin: %s", root, done.stderr.strip())


def merged_refs(*sources: Any) -> dict[str, str]:
    """The artifact references of task outputs (dicts with "artifacts") merged, later wins."""
    refs: dict[str, str] = {}
    for source in sources:
        if isinstance(source, dict):
            refs.update(source.get("artifacts") or {})
    return refs


@contextlib.contextmanager
def in_workspace(cfg: dict[str, Any], *inputs: Any):
    """The run's (Workspace, params) on this worker, the artifacts of `inputs` (task
    outputs) present; bad input fails without retries."""
    from augment.errors import AugmentError
    from augment.workspace import Workspace
    from pipelines.params import load_params

    try:
        ws = Workspace(local_workspace(cfg))
        store = artifact_store(ws.root)
        if store is not None:
            sync_clone(ws.root)
            fetched = store.pull(ws.root, merged_refs(cfg, *inputs))
            if fetched:
                log.info("pulled from %s: %s", store.url, ", ".join(fetched))
        yield ws, load_params(ws.root / cfg["params_file"])
    except AugmentError as err:
        raise AirflowFailException(str(err)) from err


def output(ws: Any, path: Path, *inputs: Any, also: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A task's return value: {"path": its output on this worker, "artifacts": the
    references of its inputs and of what it wrote (`path` and `also`), pushed to the
    remote first when artifacts move through it}."""
    refs = merged_refs(*inputs)
    store = artifact_store(ws.root)
    if store is not None:
        refs.update(store.push(ws.root, path, *[p for p in also if p.exists()]))
    return {"path": str(path), "artifacts": refs}


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
    remote = artifact_store(workspace) is not None  # a worker's clone: publish through origin
    with workspace_lock(workspace):  # concurrent runs of other datasets commit one at a time
        if remote:
            sync_clone(workspace, strict=True)  # the version numbers and commits of the others
        if generators:
            listed = dvc(workspace, "stage", "list", "--name-only")
            known = set(listed.stdout.split()) if listed.returncode == 0 else set()
            stages += [name for g in generators if (name := f"train@{dataset}-{g}") in known]
        done = dvc(workspace, "commit", "--force", "--quiet", *stages)
        if done.returncode != 0:
            raise AugmentError(f"dvc commit {' '.join(stages)} failed (is {dataset} in params.yaml "
                               f"pipeline.datasets?): {done.stderr.strip()}")
        tag = publish_version(dataset, repo=str(workspace), push=True)
        if remote:
            pushed = subprocess.run(["git", "-C", str(workspace), "push", "-q", "origin", "HEAD", tag],
                                    capture_output=True, text=True)
            if pushed.returncode != 0:
                raise AugmentError(f"git push of {tag} to origin failed: {pushed.stderr.strip()}")
        return tag


def dvc(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m dvc ARGS` in the workspace (this environment's dvc)."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True,
                          cwd=workspace)


@task
def configure(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
    """Merge params.yaml with this run's parameters, check them, write the run's params file."""
    from augment.errors import AugmentError
    from augment.workspace import Workspace, safe_run_id
    from pipelines.params import check_params, load_params

    assert params is not None and run_id is not None
    cfg = {"workspace": str(Path(params["workspace"]).expanduser().resolve())}
    ws = Workspace(local_workspace(cfg))
    try:
        if artifact_store(ws.root) is not None:
            sync_clone(ws.root)
        merged = run_params(load_params(ws.params_file), dict(params))
        dataset, generators = params["dataset"], merged["pipeline"]["generators"]
        check_params(merged, dataset, generators)  # names, keys and families fail before any work
        path = write_params(ws.run_params(dataset, run_id), merged)
    except AugmentError as err:
        raise AirflowFailException(f"bad parameters: {err}") from err
    log.info("run parameters: %s (profile %s, generators %s)", path, params["profile"], generators)
    cfg |= {"params_file": path.relative_to(ws.root).as_posix(), "dataset": dataset,
            "generators": generators, "run": safe_run_id(run_id)}
    return cfg | {"artifacts": output(ws, path)["artifacts"]}


@task
def prepare(cfg: dict[str, Any]) -> dict[str, Any]:
    from pipelines.prepare import prepare as run

    with in_workspace(cfg) as (ws, params):
        log.info(run(ws, cfg["dataset"], params))
        return output(ws, ws.prepared(cfg["dataset"]))


@task(queue=TRAIN_QUEUE)
def train(cfg: dict[str, Any], generator: str, prepared: dict[str, Any]) -> dict[str, Any]:
    """Train one family; skipped (with its branch) when the run does not ask for it."""
    from pipelines.train import train as run

    if generator not in cfg["generators"]:
        raise AirflowSkipException(f"{generator} is not among this run's generators")
    share_cores(cfg)
    with in_workspace(cfg, prepared) as (ws, params):
        log.info(run(ws, cfg["dataset"], generator, params))  # resumes from its checkpoints on a retry
        return output(ws, ws.model(cfg["dataset"], generator), prepared,
                      also=(ws.curve(cfg["dataset"], generator),))


@task
def plan(cfg: dict[str, Any], generator: str, trained: dict[str, Any], ti=None) -> list[dict[str, Any]]:
    """The rows to draw per class (measured under the auto policy) and the row ranges of
    the `sample.shards` draw tasks: [{"counts": {class: rows}, "rows": [start, stop]}]; the
    auto policy's figures go to XCom key "selection"."""
    from pipelines.sample import plan as run

    with in_workspace(cfg, trained) as (ws, params):
        planned = run(ws, cfg["dataset"], generator, params)
    ti.xcom_push(key="selection", value=planned["selection"])
    log.info("%s: %d rows in %d shard(s)", generator, sum(planned["counts"].values()),
             len(planned["shards"]))
    return [{"counts": planned["counts"], "rows": rows} for rows in planned["shards"]]


@task
def draw(cfg: dict[str, Any], generator: str, trained: dict[str, Any], shard: dict[str, Any]
         ) -> dict[str, Any]:
    """One shard: rows [start, stop) of the draw, the same rows whichever task makes them."""
    from pipelines.sample import draw as run

    share_cores(cfg)
    rows = shard["rows"]
    with in_workspace(cfg, trained) as (ws, params):
        stem = ws.shard(cfg["dataset"], generator, cfg["run"], rows)
        path = run(ws, cfg["dataset"], generator, params, shard["counts"], rows, stem)
        log.info("%s: rows %d-%d -> %s", generator, rows[0], rows[1], path)
        return output(ws, path)


@task
def sample(cfg: dict[str, Any], generator: str, trained: dict[str, Any], planned: list[dict[str, Any]],
           shards: Any, ti=None) -> dict[str, Any]:
    """Gather the shards (in row order), apply the per-row filters (drawing replacements),
    write the generator's synthetic folder: byte for byte what one shard gives."""
    from pipelines.sample import finish, gather

    parts = list(shards)
    selection = ti.xcom_pull(task_ids=f"{generator}.plan", key="selection")
    share_cores(cfg)
    with in_workspace(cfg, trained, *parts) as (ws, params):
        first = gather(ws, cfg["dataset"], [Path(part["path"]) for part in parts])
        log.info(finish(ws, cfg["dataset"], generator, params,
                        {"counts": planned[0]["counts"], "selection": selection}, first))
        return output(ws, ws.synthetic(cfg["dataset"], generator), trained)


@task
def validate(cfg: dict[str, Any], generator: str, sampled: dict[str, Any], ti=None) -> dict[str, Any]:
    """Run the gate; a failing gate fails this task (no retry) with the summary in the log.

    The report folder (key "gate") and the branch's artifacts (key "artifacts") are pushed
    before the verdict, so `select` reads the GateReport of every generator gated in this
    run, passed or not.
    """
    from pipelines.validate import run_validation

    with in_workspace(cfg, sampled) as (ws, params):
        report = run_validation(ws, cfg["dataset"], generator, params)
        done = output(ws, report.folder, sampled,
                      also=(ws.gate_metrics(cfg["dataset"], generator),))
    ti.xcom_push(key="gate", value=str(report.folder))
    ti.xcom_push(key="artifacts", value=done["artifacts"])
    text = report.summary(f"{cfg['dataset']}/{generator}")
    if not report.passed:
        log.error(text)
        raise AirflowFailException(text)
    log.info(text)
    return done


def branch(generator: str, cfg: Any, prepared: Any) -> Any:
    """One family's branch, a task group of its own: train -> plan -> draw (mapped over
    the shards) -> sample -> validate. A failure here leaves the other branches running."""
    with TaskGroup(group_id=generator):
        trained = train(cfg, generator, prepared)
        planned = plan(cfg, generator, trained)
        shards = draw.partial(cfg=cfg, generator=generator, trained=trained).expand(shard=planned)
        return validate(cfg, generator, sample(cfg, generator, trained, planned, shards))


def gated_this_run(ti, cfg: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """{generator: (its gate report folder, its branch's artifacts)} for the generators
    gated in this run (a branch that failed before its gate has none; older reports on
    disk are ignored)."""
    gated = {}
    for generator in cfg["generators"]:
        folder = ti.xcom_pull(task_ids=f"{generator}.validate", key="gate")
        if folder:
            refs = ti.xcom_pull(task_ids=f"{generator}.validate", key="artifacts") or {}
            gated[generator] = (folder, refs)
    return gated


@task(trigger_rule=TriggerRule.ALL_DONE)
def select(branches: Any, ti=None) -> dict[str, Any]:
    """The generators to publish, by the library's `select` over this run's GateReports.

    Runs once every branch is done, failed, skipped or not (`branches` only orders it
    after them). Reads the run's cfg itself: under ALL_DONE a rejected conf leaves no cfg
    XCom, and select then fails at once instead of retrying its argument's lookup.

    Fails, publishing nothing, when none passed, or when `require_all` is set and any
    generator did not pass (a branch that failed before its gate counts as not passed).
    """
    from augment.errors import AugmentError
    from augment.validate.verdict import GateReport
    from augment.validate.verdict import select as choose
    from pipelines.params import publish_params

    cfg = ti.xcom_pull(task_ids="configure")
    if not cfg:
        raise AirflowFailException("nothing published: configure did not produce the run's config")
    gated = gated_this_run(ti, cfg)
    missing = [g for g in cfg["generators"] if g not in gated]
    branch_refs = [{"artifacts": refs} for _, refs in gated.values()]
    with in_workspace(cfg, *branch_refs) as (ws, params):
        pp = publish_params(params)
        reports = {g: GateReport.load(ws.gate(cfg["dataset"], g)) for g in gated}
    lost = [f"{cfg['dataset']}/{g}: no gate outcome (an earlier task of this branch failed)"
            for g in missing]
    if not gated:
        raise AirflowFailException("nothing published: no generator reached its gate\n" + "\n".join(lost))
    if pp.require_all and missing:
        raise AirflowFailException("nothing published (require_all is set):\n" + "\n".join(lost))
    try:
        selection = choose(reports, pp.select, pp.require_all, dataset=cfg["dataset"])
    except AugmentError as err:
        raise AirflowFailException("\n".join([str(err), *lost])) from err
    for line in lost + [f"{cfg['dataset']}/{g}: gate failed" for g, r in reports.items() if not r.passed]:
        log.warning("not published: %s", line)
    log.info("publishing %s: %s", ", ".join(selection.chosen), selection.reason)
    return {"chosen": selection.chosen, "reason": selection.reason, "gated": list(gated),
            "artifacts": merged_refs(*branch_refs)}


@task(pool=DVC_POOL, outlets=[PUBLISHED])
def publish(cfg: dict[str, Any], selected: dict[str, Any], outlet_events=None) -> dict[str, Any]:
    """Write the published folder; in a git+DVC workspace also tag and push a version."""
    import json

    from augment.publish import tag_revision
    from augment.validate.verdict import GateReport, Selection
    from pipelines.publish import publish_selection

    dataset, chosen = cfg["dataset"], selected["chosen"]
    with in_workspace(cfg, selected) as (ws, params):
        # Exactly this run's selection and reports: older reports on disk may be stale.
        reports = {g: GateReport.load(ws.gate(dataset, g)) for g in selected["gated"]}
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
        done = output(ws, ws.published(dataset), selected)
    outlet_events[PUBLISHED].add(Asset(PUBLISHED_URI.format(dataset)), extra={
        "dataset": dataset, "version": tag, "git_revision": revision,
        "content_hash": manifest["content_hash"], "generators": chosen,
        "manifest": str(manifest_path), "params_file": cfg["params_file"],
    })
    return done | {"manifest": str(manifest_path), "version": tag}


@task
def evaluate(cfg: dict[str, Any], published: dict[str, Any], ti=None) -> dict[str, Any]:
    """Downstream scores: real-only vs each augmentation of this run, on the test split."""
    from pipelines.evaluate import evaluate as run

    with in_workspace(cfg, published) as (ws, params):
        # Only generators gated in this run: a failed branch may have left older files.
        params["pipeline"]["generators"] = list(gated_this_run(ti, cfg))
        log.info(run(ws, cfg["dataset"], params))
        return output(ws, ws.downstream(cfg["dataset"]), published,
                      also=(ws.downstream_plot(cfg["dataset"]),))


@task
def report(cfg: dict[str, Any], metrics: dict[str, Any], ti=None) -> dict[str, Any]:
    """The dataset's HTML report from this run's artifacts."""
    from pipelines.report import report as run

    with in_workspace(cfg, metrics) as (ws, params):
        params["pipeline"]["generators"] = list(gated_this_run(ti, cfg))
        log.info(run(ws, cfg["dataset"], params))
        done = output(ws, ws.report_page(cfg["dataset"]), metrics,
                      also=(ws.report_figures(cfg["dataset"]),))
        return done


def augment_pipeline() -> None:
    """The task graph, shared by every DAG of this file: one static branch per family
    (skipped when the run does not ask for it), so each can map its own draw tasks."""
    cfg = configure()
    prepared = prepare(cfg)
    outcomes = [branch(generator, cfg, prepared) for generator in FAMILIES]
    report(cfg, evaluate(cfg, publish(cfg, select(outcomes))))


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
