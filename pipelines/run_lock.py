"""One process at a time per local run: ``lockgate run`` holds an exclusive lock on the run.

An ``flock`` on ``$LOCKGATE_HOME/locks/<pipeline>/<run_id>.lock``, held while the run executes.
The kernel drops it when the process dies, even by SIGKILL, so a crashed run can be resumed at
once, while a ``--resume`` of a run that is still executing is refused instead of marking the
live executions FAILED under it. Airflow runs take no lock: Airflow runs each task once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pipelines.errors import LockgateError
from pipelines.home import lockgate_home
from pipelines.liveness import this_process


class RunInProgress(LockgateError):
    """Another process is executing this run."""

    exit_code = 2  # the command was wrong, not the pipeline


@contextmanager
def run_lock(pipeline: str, run_id: str) -> Iterator[None]:
    path = lockgate_home() / "locks" / pipeline / f"{run_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "another process"
            raise RunInProgress(
                f"run {run_id} of pipeline {pipeline} is being executed right now by "
                f"{holder}; wait for it to finish (or stop it), then resume it"
            ) from None
        host, pid, _ = this_process().split(":")
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {pid} on {host}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
                 .encode())
        yield
    finally:
        os.close(fd)  # releases the lock
