"""Torch threads from the CPU share of one task, so parallel tasks do not oversubscribe.

torch uses every core by default. When two fits run at once (Airflow's LocalExecutor runs
mapped tasks in parallel; `dvc exp run --run-all -j 2` does too), each takes all cores
and both slow down several times (bench/threads.py measures it). Each task therefore
takes `cores // parallel tasks` threads:

- `AUGMENT_THREADS=N`: exactly N threads (wins over everything);
- `AUGMENT_PARALLEL_TASKS=K`: K tasks share the cores (the DAG sets K from Airflow's
  `core.parallelism` and the number of branches; default 1 elsewhere).
"""

from __future__ import annotations

import logging
import os

from augment.errors import ConfigError

log = logging.getLogger("augment.threads")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"${name} must be a positive integer, got {text!r}")
    return int(text)


def task_threads(parallel: int | None = None) -> int:
    """Threads for one task when `parallel` tasks (default: $AUGMENT_PARALLEL_TASKS or 1)
    share this machine's cores; $AUGMENT_THREADS overrides."""
    explicit = _env_int("AUGMENT_THREADS")
    if explicit is not None:
        return explicit
    tasks = parallel or _env_int("AUGMENT_PARALLEL_TASKS") or 1
    return max(1, available_cores() // max(1, tasks))


def configure_threads(parallel: int | None = None) -> int:
    """Set torch's intra-op threads to `task_threads(parallel)`; returns the number."""
    import torch

    threads = task_threads(parallel)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    log.info("torch threads: %d (%d cores)", threads, available_cores())
    return threads
