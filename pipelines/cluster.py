"""Helpers for the CeleryExecutor cluster of scripts/airflow-cluster."""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """The host name a task instance records (Airflow's `[core] hostname_callable`).

    scripts/airflow-cluster runs two Celery workers on one machine, so the plain FQDN would
    not tell which worker ran a task: with $AUGMENT_WORKER_NAME set (w1, w2) it is appended
    (`host:w1`). Elsewhere this is the FQDN, as Airflow's default.
    """
    name = os.environ.get("AUGMENT_WORKER_NAME")
    return f"{socket.getfqdn()}:{name}" if name else socket.getfqdn()
