"""`make airflow-postgres` on this machine, as a new operator runs it: PostgreSQL from Debian's
package with Airflow's DB and ML Metadata, Airflow's scheduler, dag-processor, api-server and
triggerer as separate processes with the LocalExecutor, and the shipped configs switched to
PostgreSQL MLMD by the environment alone. Through the REST API: penguin four times at once on
a cold cache, and pupdates; then the lineage in PostgreSQL must be whole and consistent, and
`make airflow-postgres-stop` must end every process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.serving import ServingTarget, read_manifest
from tests.airflow.api import wait_for
from tests.e2e.configs import REPO
from tests.services.cluster import (
    PASSWORD,
    Cluster,
    assert_lineage_consistent,
    assert_stops_cleanly,
    shipped_configs,
    start_cluster,
)

pytestmark = [pytest.mark.services, pytest.mark.e2e, pytest.mark.airflow]
PENGUIN_RUNS = [f"rest_penguin_{i}" for i in range(4)]
PUPDATES_RUN = "rest_pupdates"


def configs(directory: Path) -> None:
    def edit(name: str, config: dict[str, Any]) -> None:
        if name == "penguin":
            config["airflow"]["max_active_runs"] = 4  # the four runs really run at once

    shipped_configs(directory, edit)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from start_cluster("postgres", configs)


@pytest.fixture(scope="module")
def finished(cluster: Cluster) -> dict[str, str]:
    made = subprocess.run(
        [str(REPO / ".venv" / "bin" / "lockgate"), "datagen", "pupdates", "--rows", "3000",
         "--spans", "2", "--out", str(cluster.home / "data" / "pupdates")],
        env=cluster.env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    api = cluster.api
    for dag in ("penguin", "pupdates"):
        wait_for(f"the {dag} DAG", lambda: api.get(f"/api/v2/dags/{dag}"),  # noqa: B023
                 timeout=180)
    for run_id in PENGUIN_RUNS:
        api.trigger("penguin", run_id)
    api.trigger("pupdates", PUPDATES_RUN)
    penguin = wait_for("four penguin runs", lambda: api.finished("penguin", PENGUIN_RUNS),
                       timeout=1500, every=5)
    pupdates = wait_for("the pupdates run", lambda: api.finished("pupdates", [PUPDATES_RUN]),
                        timeout=600, every=5)
    return {**penguin, **pupdates}


def test_make_airflow_postgres_starts_each_component_and_prints_the_login(
    cluster: Cluster,
) -> None:
    port = cluster.env["AIRFLOW_PORT"]
    assert f"Airflow UI:  http://localhost:{port}" in cluster.banner
    [(user, password)] = json.loads((cluster.airflow_home / (
        "simple_auth_manager_passwords.json.generated")).read_text()).items()
    assert f"Login:       {user} / {password}" in cluster.banner
    health = cluster.api.get("/api/v2/monitor/health")
    assert {health[c]["status"] for c in ("metadatabase", "scheduler", "dag_processor",
                                          "triggerer")} == {"healthy"}
    # Separate processes, each alive; Airflow's DB is PostgreSQL, with the LocalExecutor.
    pids = cluster.pids()
    assert sorted(pids) == ["api-server", "dag-processor", "scheduler", "triggerer"]
    for pid in pids.values():
        os.kill(pid, 0)
    config = cluster.api.get("/api/v2/config", section="core")
    if config is not None:  # the config endpoint may be disabled; the env is what we set
        values = {o["key"]: o["value"] for s in config["sections"] for o in s["options"]}
        assert values.get("executor") in (None, "LocalExecutor")
    assert "MLMD:        postgresql://lockgate@127.0.0.1" in cluster.banner


def test_penguin_four_at_once_and_pupdates_succeed_through_the_rest_api(
    cluster: Cluster, finished: dict[str, str]
) -> None:
    assert finished == dict.fromkeys([*PENGUIN_RUNS, PUPDATES_RUN], "success")
    # The penguin runs overlapped in time: the DAG's max_active_runs let them run together.
    spans = [(datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"]))
             for r in (cluster.api.get(f"/api/v2/dags/penguin/dagRuns/{i}")
                       for i in PENGUIN_RUNS)]
    latest_start = max(start for start, _ in spans)
    assert sum(end > latest_start for _, end in spans) >= 2, spans
    for run_id in PENGUIN_RUNS:  # no task failed for good (a retried attempt is allowed)
        tasks = cluster.api.task_instances("penguin", run_id)
        assert {t["state"] for t in tasks.values()} <= {"success", "skipped"}, tasks


def test_lineage_in_postgresql_is_whole_and_consistent(
    cluster: Cluster, finished: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_MLMD_PASSWORD", PASSWORD)
    assert_lineage_consistent(cluster.store(), "penguin", PENGUIN_RUNS)
    assert_lineage_consistent(cluster.store(), "pupdates", [PUPDATES_RUN])

    # One serving version per blessing: racing Pushers never pushed one blessing twice.
    records = read_manifest(ServingTarget(cluster.home / "serving", "penguin"))
    blessings = [r["blessing_id"] for r in records.values()]
    assert records and len(blessings) == len(set(blessings)), records

    # The query commands read the same PostgreSQL store, from the environment alone.
    served = cluster.lockgate("lineage", "serving", str(cluster.home / "configs" /
                                                         "penguin.yaml"))
    assert served.returncode == 0, served.stderr
    assert "penguins_processed.csv" in served.stdout
    assert "Connecting to database" not in served.stderr  # MLMD's INFO logs are quiet
    listed = cluster.lockgate("runs", str(cluster.home / "configs" / "pupdates.yaml"))
    assert listed.returncode == 0 and PUPDATES_RUN in listed.stdout, listed.stderr


def test_task_logs_carry_no_library_noise(cluster: Cluster, finished: dict[str, str]) -> None:
    logs = sorted((cluster.airflow_home / "logs").glob("dag_id=*/run_id=*/task_id=*/*.log"))
    assert len(logs) >= 4 * 8, logs  # every task of the four penguin runs, at least
    for path in logs:
        text = path.read_text()
        for noise in ("Unable to register cu", "FutureWarning", "Exception ignored",
                      "INFO:lockgate"):
            assert noise not in text, f"{noise!r} in {path}"


def test_make_airflow_postgres_stop_ends_every_process(cluster: Cluster) -> None:
    assert_stops_cleanly(cluster)
