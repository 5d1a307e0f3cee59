"""Airflow's ``[core] hostname_callable`` for several workers on one machine.

Airflow records on each task instance the host that ran it. Celery workers on one machine (as
``make airflow-celery`` starts, standing in for several hosts) would all record the same name,
so each is started with ``LOCKGATE_WORKER_NAME`` and records ``<host>-<worker>``. On real hosts,
leave the setting at Airflow's default.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    host = socket.getfqdn()
    worker = os.environ.get("LOCKGATE_WORKER_NAME")
    return f"{host}-{worker}" if worker else host
