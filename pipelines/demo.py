"""`make demo`: the whole pipeline on the builtin data, recorded by DVC, then a summary.

    python -m pipelines.demo [--no-publish] [--jobs N] [--dvc-repro]

Configures a local-directory DVC remote (.dvc-remote/, in .dvc/config.local) when no
remote is set and runs dvc.yaml's stages: prepare per dataset; train -> sample ->
validate per (dataset, generator) branch, `--jobs` branches at a time (default: one
per core, each with its share of torch threads); then publish -> evaluate -> report
per dataset. Like the Airflow DAG it runs the stage commands itself and then records
their outputs with `dvc commit`, so a later `dvc repro` finds the pipeline up to date;
`--dvc-repro` runs `dvc repro` instead, one stage at a time. Then it tags every dataset
whose gate passed as a new version (`augment publish`) and prints per generator: gate
outcome, key metrics and the downstream change vs real-only training.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import multiprocessing
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from augment.errors import AugmentError
from augment.threads import available_cores
from augment.validate.verdict import GateReport
from augment.workspace import Workspace
from pipelines.params import load_params, pipeline_params


def tool_env() -> dict[str, str]:
    """What the demo's commands and stages get on top of its environment: this venv's
    tools (dvc, python) first on PATH, no DVC analytics."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1"}


def sh(*cmd: str, capture: bool = False, env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess:
    """Run a command with `tool_env()` and `env` on top of this environment."""
    return subprocess.run(cmd, env=os.environ | tool_env() | (env or {}), text=True,
                          capture_output=capture)


BRANCH = ("train", "sample", "validate")  # per (dataset, generator), in this order
FINAL = ("publish", "evaluate", "report")  # per dataset, once all its branches passed
# families by their fit time on the builtin data, slowest first: a slow fit that starts
# last leaves one core idle at the end (digits' translation fit is a third of the demo)
SLOWEST_FIRST = ("translation", "diffusion", "autoregressive", "gan", "vae")
# imported once by the process every stage is forked from (pipelines/<stage>.py import
# torch, pandas, scikit-learn and GX: 2-5 s a stage, over 100 s of CPU time in the demo)
PRELOAD = [f"pipelines.{stage}" for stage in ("prepare", *BRANCH, *FINAL)] + ["great_expectations"]
# run(stage, args, env) -> the stage's exit code and output
Runner = Callable[[str, list[str], dict[str, str]], subprocess.CompletedProcess]


def _stage_child(stage: str, args: list[str], env: dict[str, str], output: str) -> None:
    """In the forked process: `python -m pipelines.<stage> *args` with env and its stdout
    and stderr (and its subprocesses') going to the file `output`."""
    os.environ.update(env)
    fd = os.open(output, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    module = importlib.import_module(f"pipelines.{stage}")
    sys.argv = [module.__file__, *args]  # as `python -m` sets it: the stage's name in its lines
    try:
        code = module.main(args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


def stage_runner() -> Runner:
    """run(stage, args, env) -> its exit code and output: `python -m pipelines.<stage>`, or
    where the platform has a fork server, the stage's `main` in a process forked from one
    that imported the stage modules once (a fresh process per stage all the same)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return lambda stage, args, env: sh(sys.executable, "-m", f"pipelines.{stage}", *args,
                                           capture=True, env=env)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    tools = tool_env()

    def run(stage: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        with tempfile.NamedTemporaryFile("r", prefix=f"augment-{stage}-", suffix=".log") as out:
            child = context.Process(target=_stage_child, name=stage,
                                    args=(stage, args, tools | env, out.name))
            child.start()
            child.join()
            return subprocess.CompletedProcess(args, child.exitcode, out.read(), "")

    return run


def run_stages(datasets: list[str], generators: list[str], jobs: int,
               echo: Callable[[str], None] = print, run_stage: Runner | None = None
               ) -> tuple[list[str], list[str]]:
    """Run dvc.yaml's stage commands (as its `cmd`s spell them), `jobs` at a time.

    A stage starts as soon as the stages it depends on have succeeded: prepare@<ds>, then
    each branch train -> sample -> validate, then publish -> evaluate -> report of a
    dataset once all its branches have. Of the ready stages, a dataset's final ones go
    first, then those of the dataset listed first, so one dataset's evaluation overlaps
    the next one's training, and of a dataset's families the slowest first. A failure
    stops what depends on it and nothing else, as `dvc repro --keep-going`. Each command
    gets AUGMENT_PARALLEL_TASKS=jobs, so the stages running at once share the cores
    (augment/threads.py). A stage's output is printed whole when it ends, under dvc's
    "Running stage" line with when it started and how long it took. `run_stage(stage,
    args, env)` runs one (default: `stage_runner()`).

    Returns (stages that succeeded, stages that failed), by dvc stage name.
    """
    env = {"AUGMENT_PARALLEL_TASKS": str(jobs)}
    done: list[str] = []
    failed: list[str] = []
    busy = [0.0]  # seconds the stages ran, summed
    ready: queue.PriorityQueue = queue.PriorityQueue()
    order = itertools.count()
    lock = threading.Lock()
    waiting = {d: len(generators) for d in datasets}  # branches not finished
    broken: set[str] = set()  # datasets with a failed branch
    queued = [0]  # stages queued or running

    rank = {d: i for i, d in enumerate(datasets)}
    run_stage = run_stage or stage_runner()
    start = time.perf_counter()

    def put(stage: str, dataset: str, generator: str | None = None) -> None:
        """Queue a ready stage: a dataset's final stages first, then the earlier dataset's
        stages (it finishes first, and its evaluation overlaps the next one's training),
        of those the slower families' first."""
        queued[0] += 1
        slow = SLOWEST_FIRST.index(generator) if generator in SLOWEST_FIRST else 0
        ready.put((0 if stage in FINAL else 1, rank[dataset], slow, next(order), stage, dataset,
                   generator))

    def finished(stage: str, dataset: str, generator: str | None, ok: bool) -> None:
        """Queue what `stage` unblocks (called under the lock)."""
        if stage == "prepare":
            for g in generators if ok else ():
                put("train", dataset, g)
        elif stage in BRANCH:
            if ok and stage != BRANCH[-1]:
                put(BRANCH[BRANCH.index(stage) + 1], dataset, generator)
                return
            broken.update(() if ok else (dataset,))
            waiting[dataset] -= 1
            if waiting[dataset] == 0 and dataset not in broken:
                put(FINAL[0], dataset)
        elif ok and stage != FINAL[-1]:
            put(FINAL[FINAL.index(stage) + 1], dataset)

    def stop_all() -> None:
        for _ in range(max(1, jobs)):  # first in the queue: stage None stops a worker
            ready.put((-1, 0, 0, next(order), None, "", None))

    def worker() -> None:
        while True:
            *_, stage, dataset, generator = ready.get()
            if stage is None:
                return
            name = f"{stage}@{dataset}" + (f"-{generator}" if generator else "")
            args = ["--dataset", dataset] + (["--generator", generator] if generator else [])
            began = time.perf_counter()
            try:
                out = run_stage(stage, args, env)
            except OSError as err:  # counted as the stage's failure: the others go on
                out = subprocess.CompletedProcess(args, 1, "", f"{name}: {err}")
            took = time.perf_counter() - began
            with lock:
                busy[0] += took
                echo(f"Running stage '{name}' (at {began - start:.0f} s, {took:.1f} s):\n"
                     f"{out.stdout}{out.stderr}".rstrip())
                (done if out.returncode == 0 else failed).append(name)
                finished(stage, dataset, generator, out.returncode == 0)
                queued[0] -= 1
                if queued[0] == 0:  # nothing left to run or to unblock
                    stop_all()

    with lock:
        for d in datasets:
            put("prepare", d)
        if not queued[0]:
            stop_all()
    # daemons: Ctrl-C stops the demo (the running stages get it too) instead of waiting
    # for workers that would go on starting stages
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # `time make demo` does not count the stages (children of the fork server): sum them
    echo(f"{len(done) + len(failed)} stages ran {busy[0]:.0f} s in all, {jobs} at a time, "
         f"in {time.perf_counter() - start:.0f} s")
    return done, failed


def record(done: list[str]) -> subprocess.CompletedProcess:
    """`dvc commit --force` the stages in `done`. Named one by one, dvc takes 1-1.5 s a
    stage (50 s for the demo's 38) against 7 s for all of dvc.yaml's: so when `done` is
    every stage, none is named."""
    listed = sh("dvc", "stage", "list", "--name-only", capture=True)
    every = listed.returncode == 0 and set(listed.stdout.split()) == set(done)
    return sh("dvc", "commit", "--force", "--quiet", *([] if every else done), capture=True)


def ensure_remote() -> None:
    if not sh("dvc", "remote", "list", capture=True).stdout.strip():
        sh("dvc", "remote", "add", "--local", "-d", "demo", ".dvc-remote")


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def summary_rows(ws: Workspace, params: dict) -> list[str]:
    pipe = pipeline_params(params)
    lines = [f"{'dataset':<14}{'generator':<16}{'gate':<6}{'detect AUC':>11}{'copies':>8}"
             f"{'TSTR F1':>9}{'val F1 real':>12}{'val F1 aug':>11}  published / test-set change"]
    for dataset in pipe.datasets:
        manifest_file = ws.manifest(dataset)
        chosen = json.loads(manifest_file.read_text())["generators"] if manifest_file.exists() else []
        test = json.loads(ws.downstream(dataset).read_text()) if chosen else {}
        for gen in pipe.generators:
            if not ws.gate_file(dataset, gen).is_file():
                lines.append(f"{dataset:<14}{gen:<16}(not run)")
                continue
            gate = GateReport.load(ws.gate(dataset, gen))
            note = ""
            if gen in chosen:
                deltas = ", ".join(f"{c} {d:+.3f}" for c, d in test["delta_macro_f1"][gen].items())
                note = f"yes / macro-F1 {deltas}"
            auc, copies = gate.metric("detection_auc"), gate.metric("privacy", "exact_copy_share")
            lines.append(
                f"{dataset:<14}{gen:<16}{'pass' if gate.passed else 'FAIL':<6}"
                f"{_figure(auc):>11}{'n/a' if copies is None else f'{copies:.1%}':>8}"
                f"{_figure(gate.metric('utility', 'tstr_macro_f1')):>9}"
                f"{_figure(gate.metric('utility', 'real_macro_f1')):>12}"
                f"{_figure(gate.metric('utility', 'augmented_macro_f1')):>11}  {note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-publish", action="store_true", help="skip tagging versions")
    parser.add_argument("--jobs", type=int, default=available_cores(),
                        help="branches run at once (default: one per core)")
    parser.add_argument("--dvc-repro", action="store_true",
                        help="run `dvc repro` (one stage at a time) instead")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    start = time.perf_counter()
    try:
        ws = Workspace(".")
        params = load_params(ws.params_file)
        ensure_remote()
        pipe = pipeline_params(params)
        if args.dvc_repro:
            ok = sh("dvc", "repro", "--keep-going").returncode == 0  # a failed gate stops no other
        else:
            done, failed = run_stages(list(pipe.datasets), list(pipe.generators), args.jobs)
            # record what ran in dvc.lock, as `dvc repro` would have (the DAG does the same)
            commit = record(done) if done else None
            if commit is not None and commit.returncode != 0:
                raise AugmentError(f"dvc commit failed: {commit.stderr.strip()}")
            ok = not failed
            if failed:
                print(f"demo: stages failed: {', '.join(failed)}", file=sys.stderr)
        tags = []
        if not args.no_publish:
            from augment.publish import publish_version

            for dataset in pipeline_params(params).datasets:
                if not ws.manifest(dataset).exists():
                    continue
                try:
                    tags.append(publish_version(dataset))
                except AugmentError as err:  # e.g. its publish stage failed this time
                    print(f"demo: {dataset} not tagged: {err}", file=sys.stderr)
        print("\n" + "\n".join(summary_rows(ws, params)))
    except AugmentError as err:
        print(f"demo: error: {err}", file=sys.stderr)
        return 2
    datasets = pipeline_params(params).datasets
    rel = lambda path: str(path.relative_to(ws.root))  # noqa: E731
    print(f"\nversions: {', '.join(tags) or 'none'}")
    print("reports: " + ", ".join(rel(ws.report_page(d)) for d in datasets))
    print("published: " + ", ".join(rel(ws.published(d)) for d in datasets)
          + "   gates: " + ", ".join(rel(ws.gates(d)) for d in datasets))
    print(f"demo finished in {time.perf_counter() - start:.0f} s"
          + ("" if ok else " (a stage failed: see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
