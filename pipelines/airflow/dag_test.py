"""``airflow dags test`` without rebuilding Airflow's Execution API for every task.

``DAG.test()`` runs each task in this process against an in-process Execution API, and Airflow
3.2 builds a new one per task (``supervisor.in_process_api_server``). Each new app is a Cadwyn
app, which generates its versioned routers on its first request: about 1.6 s a task on 2 cores,
13 s of the penguin DAG's 37 s. It also starts an event-loop thread per task that outlives it.
The API holds no per-task state (the supervisor overrides the app's DAG bag for each task), so
``LockgateDAG.test`` builds one for the whole run and puts Airflow's factory back afterwards.
The supervisor module is imported only when a test run starts, never while DAG files parse.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from airflow.sdk import DAG


class LockgateDAG(DAG):
    """A DAG whose ``test()`` (``airflow dags test``) shares one in-process Execution API."""

    def test(self, *args: Any, **kwargs: Any) -> Any:
        with one_in_process_api():
            return super().test(*args, **kwargs)


@contextlib.contextmanager
def one_in_process_api() -> Iterator[None]:
    """Within the block, every ``in_process_api_server()`` call returns the same API."""
    from airflow.sdk.execution_time import supervisor

    build = supervisor.in_process_api_server
    supervisor.in_process_api_server = functools.cache(build)
    try:
        yield
    finally:
        supervisor.in_process_api_server = build
