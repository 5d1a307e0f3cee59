"""``airflow dags test`` without rebuilding Airflow's Execution API for every task.

``DAG.test()`` runs each task in this process against an in-process Execution API, and Airflow
3.2 builds a new one per task (``supervisor.in_process_api_server``). Each new app is a Cadwyn
app, which generates its versioned routers on its first request: about 1.6 s a task on 2 cores,
13 s of the penguin DAG's 37 s. It also starts an event-loop thread per task that outlives it.
The API holds no per-task state (the supervisor overrides the app's DAG bag for each task), so
``LockgateDAG.test`` builds one for the whole run and puts Airflow's factory back afterwards.

That one app also serves only the API version its caller speaks. Its client is the Task SDK in
this very process, which sends the newest version, yet Cadwyn generates routers for each of the
eight versions Airflow serves to older workers: 2.15 s, against 0.65 s for two. The app is made
from a bundle of the newest version (its changes) and the one before (bare, where the routes
the newest retired still live, as Cadwyn requires). Cadwyn binds a version's changes to one
bundle, so they are bound to that one for the run and back to Airflow's after it. When the
SDK's version is not the server's newest, or Cadwyn refuses the smaller bundle, every version
is served.

The supervisor module is imported only when a test run starts, never while DAG files parse.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from airflow.sdk import DAG


class LockgateDAG(DAG):
    """A DAG whose ``test()`` (``airflow dags test``) shares one in-process Execution API."""

    def test(self, *args: Any, **kwargs: Any) -> Any:
        with one_in_process_api():
            return super().test(*args, **kwargs)


@contextlib.contextmanager
def one_in_process_api() -> Iterator[None]:
    """Within the block, every ``in_process_api_server()`` call returns the same API, built
    for the Task SDK's own API version."""
    from airflow.sdk.execution_time import supervisor

    build = supervisor.in_process_api_server
    with contextlib.ExitStack() as undo:
        supervisor.in_process_api_server = functools.cache(
            functools.partial(_sdk_version_only, build, undo))
        try:
            yield
        finally:
            supervisor.in_process_api_server = build


def _sdk_version_only(build: Callable[[], Any], undo: contextlib.ExitStack) -> Any:
    """``build()``'s API with its app made from a bundle of the SDK's version; ``undo`` puts
    Airflow's bundle and its bindings back."""
    from airflow.api_fastapi.execution_api import versions
    from airflow.sdk.api.client import API_VERSION
    from cadwyn import HeadVersion, Version, VersionBundle

    api = build()
    served = versions.bundle
    if len(served.versions) < 2 or served.versions[0].value != API_VERSION:
        return api  # an SDK older than the server: serve every version
    newest, before = served.versions[0], served.versions[1]
    bound = {change: change._bound_version_bundle for change in newest.changes}

    def rebind() -> None:
        versions.bundle = served
        for change, bundle in bound.items():
            change._bound_version_bundle = bundle

    undo.callback(rebind)
    for change in newest.changes:
        change._bound_version_bundle = None
    try:
        versions.bundle = VersionBundle(HeadVersion(), Version(newest.value, *newest.changes),
                                        Version(before.value))
        api.app  # noqa: B018 (a cached property: the app is made now, from that bundle)
    except Exception:  # a saving only: never a reason for the run to fail
        rebind()
        return build()
    versions.bundle = served  # the app keeps its own; Airflow's module is as it was
    return api
