"""`make airflow-celery`: the PostgreSQL deployment with the CeleryExecutor, Redis as broker and
two Celery workers on this machine standing in for two hosts. One penguin run's tasks are
spread over both workers; the worker running the Trainer is killed with SIGKILL mid-task, and
Airflow's retry on the other worker completes the node, leaving no orphan artifact."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.api import wait_for
from tests.services.cluster import (
    PASSWORD,
    Cluster,
    assert_lineage_consistent,
    assert_stops_cleanly,
    shipped_configs,
    start_cluster,
)

pytestmark = [pytest.mark.services, pytest.mark.e2e, pytest.mark.airflow]
RUN_ID = "rest_celery"
KILLED = "trainer"


def configs(directory: Path) -> None:
    def edit(name: str, config: dict[str, Any]) -> None:
        config["airflow"].update(retries=2, retry_delay_seconds=5)

    shipped_configs(directory, edit)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # A worker that died stops heartbeating its task: notice it after 30 s, not 5 minutes.
    yield from start_cluster("celery", configs,
                             AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30")


@pytest.fixture(scope="module")
def killed_run(cluster: Cluster) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """Trigger penguin; SIGKILL the worker (its whole process group, the task with it) as soon
    as it runs the Trainer; wait for the run. Returns the killed worker's host name, the run's
    final state and its task instances."""
    api = cluster.api
    wait_for("the penguin DAG", lambda: api.get("/api/v2/dags/penguin"), timeout=180)
    api.trigger("penguin", RUN_ID)

    def trainer_running() -> str | None:
        """The Trainer's host, once its MLMD execution has started (so the kill lands after
        the launcher recorded the attempt, while the model trains)."""
        task = api.task_instances("penguin", RUN_ID).get(KILLED, {})
        if task.get("state") != "running":
            return None
        started = [e for e in store.run_executions("penguin", RUN_ID)
                   if e.node_id == KILLED and e.state == "RUNNING"]
        return task.get("hostname") if started else None

    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_MLMD_PASSWORD", PASSWORD)
        store = cluster.store()
    host = wait_for("the Trainer to start", trainer_running, timeout=600, every=0.5)
    worker = host.rsplit("-", 1)[-1]
    os.killpg(cluster.pids()[worker], signal.SIGKILL)
    state = wait_for("the run", lambda: api.finished("penguin", [RUN_ID]), timeout=900, every=5)
    return host, state[RUN_ID], api.task_instances("penguin", RUN_ID)


def test_make_airflow_celery_starts_two_workers(cluster: Cluster) -> None:
    assert sorted(cluster.pids()) == ["api-server", "dag-processor", "scheduler", "triggerer",
                                      "worker1", "worker2"]
    health = cluster.api.get("/api/v2/monitor/health")
    assert {health[c]["status"] for c in ("metadatabase", "scheduler", "dag_processor",
                                          "triggerer")} == {"healthy"}
    assert "Redis:" in cluster.banner or (cluster.airflow_home / "redis.pid").is_file()


def test_a_killed_worker_s_task_is_retried_on_the_other_and_the_run_succeeds(
    cluster: Cluster, killed_run: tuple[str, str, dict[str, dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, state, tasks = killed_run
    assert state == "success", {t: (i["state"], i["hostname"]) for t, i in tasks.items()}
    # The run's tasks ran on both workers: the killed one ran at least the Trainer's first try
    # (Celery may have given it nothing else), the other at least the retry.
    hosts = {t["hostname"] for t in tasks.values() if t["state"] == "success"} | {host}
    assert {h.rsplit("-", 1)[-1] for h in hosts} == {"worker1", "worker2"}, hosts
    # The Trainer's second try ran on the worker that was not killed.
    trainer = tasks[KILLED]
    assert trainer["try_number"] >= 2 and trainer["hostname"] != host, trainer

    monkeypatch.setenv("LOCKGATE_MLMD_PASSWORD", PASSWORD)
    store = cluster.store()
    trainers = [e for e in store.run_executions("penguin", RUN_ID) if e.node_id == KILLED]
    # The killed attempt is on record as FAILED; the retry completed the node.
    assert sorted(e.state for e in trainers) == ["COMPLETE", "FAILED"], trainers
    assert_lineage_consistent(store, "penguin", [RUN_ID])


def test_make_airflow_celery_stop_ends_every_process_and_redis(cluster: Cluster) -> None:
    assert_stops_cleanly(cluster)
