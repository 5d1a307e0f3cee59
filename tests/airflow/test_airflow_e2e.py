"""Lockgate DAGs on real Airflow 3.2 with the real components.

Two Airflow installations under temp dirs share one LOCKGATE_HOME (so one MLMD and one cache):

1. ``airflow dags test penguin`` runs the whole pipeline in one process: 8 COMPLETE executions
   in the MLMD run context named by the Airflow run_id, a pushed model, its Asset event.
2. ``infra/airflow.sh`` (what ``make airflow`` runs) starts ``airflow standalone``: scheduler,
   DAG processor, API server, LocalExecutor. Beside a broken config, the penguin DAG is
   triggered from the CLI with fewer training steps and an impossible accuracy threshold. The
   scheduler runs every task in its own process: the data nodes are cache hits, the Trainer
   and the Evaluator really run (TensorFlow and TFMA in worker processes), the model is refused,
   the Pusher ends *skipped*, and no new model version appears.

Speed: the sandbox sets PYTHONDONTWRITEBYTECODE, so every Airflow CLI call and task process
would compile Airflow, TensorFlow and Beam from source again; the subprocesses here share a
bytecode cache in the temp dir instead (never in the repo).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.sdk import span_of_date
from tests.airflow.api import Api, free_port, wait_for
from tests.airflow.site import Site, make_site
from tests.e2e.configs import REPO, component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, resampled, write_span

pytestmark = [pytest.mark.e2e, pytest.mark.airflow]

NODES = ["example_gen", "statistics_gen", "schema_gen", "example_validator",
         "transform", "trainer", "evaluator", "infra_validator", "pusher", "bulk_inferrer"]


@dataclass
class DagsTest:
    site: Site
    run_id: str
    output: str
    seconds: float


@pytest.fixture(scope="module")
def dags_test(tmp_path_factory: pytest.TempPathFactory) -> DagsTest:
    """`airflow dags test penguin` on a fresh Airflow DB and a fresh LOCKGATE_HOME."""
    site = make_site(tmp_path_factory.mktemp("airflow-dags-test"))
    config_variant(site.config_dir)
    migrated = site.airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    started = time.monotonic()
    result = site.airflow("dags", "test", "penguin", timeout=600)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    [(run_id,)] = site.db("select run_id from dag_run where dag_id = 'penguin'")
    print(f"\nairflow dags test penguin: {seconds:.1f}s")
    return DagsTest(site, run_id, output, seconds)


def test_airflow_dags_test_runs_the_whole_pipeline(dags_test: DagsTest) -> None:
    site, run_id = dags_test.site, dags_test.run_id
    [(state,)] = site.db("select state from dag_run where run_id = ?", run_id)
    assert state == "success"
    tasks = dict(site.db("select task_id, state from task_instance where run_id = ?", run_id))
    assert tasks == {node: "success" for node in NODES}

    # One MLMD pipeline_run context per Airflow run, named by the Airflow run_id.
    executions = site.executions(run_id)
    assert all(e.state == "COMPLETE" for e in executions)
    # A linear chain up to the InfraValidator; the Pusher and the BulkInferrer are siblings,
    # so the scheduler may run them in either order.
    order = [e.node_id for e in executions]
    assert order[:-2] == NODES[:-2] and sorted(order[-2:]) == sorted(NODES[-2:])
    assert {e.run_id for e in executions} == {run_id}

    # The pushed model is in TF Serving's layout, and the Pusher task emitted its Asset.
    assert site.served_versions() == ["1"]
    assert (site.lockgate_home / "serving" / "penguin" / "1" / "saved_model.pb").is_file()
    [(uri, extra)] = site.db(
        "select asset.uri, asset_event.extra from asset_event join asset on "
        "asset.id = asset_event.asset_id where source_run_id = ? and source_task_id = 'pusher'",
        run_id,
    )
    assert uri == "lockgate://penguin/penguin"
    event = json.loads(extra)
    assert (event["version"], event["new_version"], event["status"]) == (1, 1, "complete")
    assert event["path"] == str(site.lockgate_home / "serving" / "penguin" / "1")

    # Task logs show each node's progress, result and report paths.
    log = dags_test.output
    anomalies = site.lockgate_home / "pipelines" / "penguin" / "example_validator" / "anomalies"
    assert f"report: {anomalies}" in log
    assert "trainer: complete in" in log
    assert "pusher: complete in" in log and "pushed as version 1" in log
    assert "example_gen: writing examples 342/342 (100%)" in log


# ----- the real scheduler


@dataclass
class Standalone:
    site: Site
    banner: list[str]
    api: Api


BROKEN = "pipeline:\n  name: broken\ncomponents:\n  - component: StatisticGen\n"


def retrain_with_impossible_threshold(config: dict[str, Any]) -> None:
    component(config, "Trainer")["params"]["train_steps"] = 100
    accuracy = component(config, "Evaluator")["params"]["metrics"][0]
    assert accuracy["class_name"] == "SparseCategoricalAccuracy"
    accuracy["threshold"]["lower"] = 1.01


@pytest.fixture(scope="module")
def standalone(dags_test: DagsTest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Standalone]:
    """`infra/airflow.sh` on free ports, on the LOCKGATE_HOME of `dags_test`; stopped at the end
    by killing its process groups (the script's and standalone's, which holds every task)."""
    site = make_site(tmp_path_factory.mktemp("airflow-standalone"), dags_test.site.lockgate_home)
    config_variant(site.config_dir, retrain_with_impossible_threshold)
    (site.config_dir / "broken.yaml").write_text(BROKEN)
    daily_dag(site)
    site.env.update({
        "AIRFLOW_PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    })
    script = subprocess.Popen(["bash", str(REPO / "infra" / "airflow.sh")], env=site.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        assert script.stdout is not None
        banner = []
        for line in script.stdout:  # the script prints the address once Airflow is healthy
            banner.append(line)
            if line.startswith("Logs:") or len(banner) > 50:
                break
        assert any(line.startswith("Airflow UI:") for line in banner), (
            "".join(banner) + (site.airflow_home / "standalone.log").read_text()[-5000:]
        )
        port = site.env["AIRFLOW_PORT"]
        api = Api(f"http://localhost:{port}",
                  site.airflow_home / "simple_auth_manager_passwords.json.generated")
        yield Standalone(site, banner, api)
    finally:
        groups = [script.pid]
        pid_file = site.airflow_home / "standalone.pid"
        if pid_file.exists():
            groups.append(int(pid_file.read_text()))
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
        try:
            script.wait(timeout=60)
        finally:
            for group in groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)


def test_a_cached_push_adds_no_asset_event(dags_test: DagsTest) -> None:
    """`airflow dags test` again: every node is a cache hit, the Pusher pushed nothing new, so
    the pushed-model Asset has still one event (a DAG scheduled on it does not run again)."""
    site = dags_test.site
    result = site.airflow("dags", "test", "penguin", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    [(run_id,)] = site.db("select run_id from dag_run where run_id != ? order by id desc "
                          "limit 1", dags_test.run_id)
    executions = {e.node_id: e for e in site.executions(run_id)}
    assert all(executions[n].state == "CACHED" for n in NODES[:6]), executions
    pusher = executions["pusher"]  # a cache hit, or it ran and found the model served already
    assert pusher.state == "CACHED" or "not pushed" in pusher.message, pusher
    events = site.db("select asset.uri, asset_event.source_run_id from asset_event join asset "
                     "on asset.id = asset_event.asset_id")
    assert events == [("lockgate://penguin/penguin", dags_test.run_id)]
    assert site.served_versions() == ["1"]


# ----- a @daily DAG whose runs read the span of their data interval

DAILY = "penguin_daily"
# Relative to today, so the scheduler's own run (the latest interval: yesterday) has no data.
DAILY_START = date.today() - timedelta(days=6)
DAILY_DAYS = [DAILY_START + timedelta(days=i) for i in range(3)]


def daily_dag(site: Site) -> Path:
    """penguin as a @daily DAG over dated spans made here, a window of the latest two days."""
    data = site.root / "daily-data"
    for i, day in enumerate(DAILY_DAYS):
        write_span(data, 0, resampled(i)).parent.rename(data / f"day={day.isoformat()}")

    def edit(config: dict[str, Any]) -> None:
        config["pipeline"]["name"] = DAILY
        config["airflow"].update(schedule="@daily", start_date=DAILY_START.isoformat(),
                                 span="data_interval", retries=0)
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        gen = component(config, "ExampleGen")["params"]
        gen["input"] = str(data / "day={YYYY}-{MM}-{DD}" / "penguins.csv")
        gen["spans"] = {"latest": 2}
        component(config, "Evaluator")["params"]["metrics"][0]["threshold"]["change"][
            "absolute"] = -1.0
        component(config, "Pusher")["params"]["model_name"] = DAILY

    return config_variant(site.config_dir, edit, name=DAILY)


def test_a_backfill_gives_one_run_per_day_each_on_its_own_span(
    standalone: Standalone,
) -> None:
    site, api = standalone.site, standalone.api
    wait_for("the daily DAG", lambda: api.get(f"/api/v2/dags/{DAILY}"), timeout=120)
    created = site.airflow("backfill", "create", "--dag-id", DAILY, "--from-date",
                           DAILY_DAYS[0].isoformat(), "--to-date", DAILY_DAYS[-1].isoformat(),
                           "--max-active-runs", "1")
    assert created.returncode == 0, created.stderr[-3000:]

    def runs(run_type: str) -> list[dict[str, Any]] | None:
        found = (api.get(f"/api/v2/dags/{DAILY}/dagRuns") or {}).get("dag_runs", [])
        mine = [r for r in found if r["run_type"] == run_type]
        done = all(r["state"] in ("success", "failed") for r in mine)
        return mine if mine and done else None

    backfilled = wait_for("the backfill", lambda: (b := runs("backfill")) and len(b) == 3 and b,
                          timeout=900, every=5)
    by_day = {datetime.fromisoformat(r["data_interval_start"]).date(): r for r in backfilled}
    assert sorted(by_day) == DAILY_DAYS
    read = {}
    for day, run in by_day.items():
        assert run["state"] == "success", run
        executions = {e.node_id: e for e in site.executions(run["dag_run_id"], pipeline=DAILY)}
        [examples] = site.store().outputs_of(executions["example_gen"].id)["examples"]
        assert examples.properties["span"] == span_of_date(day)  # its interval's day
        read[day] = [a.properties["span"] for a in
                     site.store().inputs_of(executions["transform"].id)["examples"]]
    first = span_of_date(DAILY_DAYS[0])
    for day, spans in read.items():  # the window: that day and the one before, if there
        assert spans == [s for s in (span_of_date(day) - 1, span_of_date(day)) if s >= first]

    # The scheduler's own run is for the latest interval, whose files have not landed:
    # ExampleGen fails, naming the path it expected (an Airflow retry would pick them up).
    [scheduled] = wait_for("the scheduled run", lambda: runs("scheduled"), timeout=300)
    day = datetime.fromisoformat(scheduled["data_interval_start"]).date()
    assert scheduled["state"] == "failed" and day not in read
    expected = site.root / "daily-data" / f"day={day.isoformat()}" / "penguins.csv"
    log = site.task_log(scheduled["dag_run_id"], "example_gen", dag_id=DAILY)
    assert f"no data for {day.isoformat()} (span {span_of_date(day)}) yet: expected " \
           f"{expected}" in log


RUN_ID = "lockgate_e2e_scheduled"
HALTED_RUN_ID = "lockgate_e2e_halted"


def trigger_and_wait(standalone: Standalone, run_id: str) -> tuple[str, dict[str, Any]]:
    """Trigger penguin from the CLI; wait (bounded) for the scheduler to finish the run.

    Returns the run's state and its task instances by task id."""
    site, api = standalone.site, standalone.api
    triggered = site.airflow("dags", "trigger", "penguin", "--run-id", run_id)
    assert triggered.returncode == 0, triggered.stderr[-3000:]

    def finished() -> str | None:
        run = api.get(f"/api/v2/dags/penguin/dagRuns/{run_id}") or {}
        return run.get("state") if run.get("state") in ("success", "failed") else None

    state = wait_for(f"DAG run {run_id}", finished, timeout=420, every=3)
    tasks = api.get(f"/api/v2/dags/penguin/dagRuns/{run_id}/taskInstances")
    return state, {t["task_id"]: t for t in tasks["task_instances"]}


@pytest.fixture(scope="module")
def scheduled_run(standalone: Standalone) -> dict[str, str]:
    dag = wait_for("the penguin DAG", lambda: standalone.api.get("/api/v2/dags/penguin"),
                   timeout=120)
    assert dag["is_stale"] is False and dag["has_import_errors"] is False
    state, tasks = trigger_and_wait(standalone, RUN_ID)
    states = {task_id: task["state"] for task_id, task in tasks.items()}
    assert state == "success", states
    return states


def test_make_airflow_prints_the_ui_address_and_login(standalone: Standalone) -> None:
    port = standalone.site.env["AIRFLOW_PORT"]
    assert f"Airflow UI:  http://localhost:{port}\n" in standalone.banner
    password_file = standalone.site.airflow_home / "simple_auth_manager_passwords.json.generated"
    [(user, password)] = json.loads(password_file.read_text()).items()
    assert f"Login:       {user} / {password}   (from {password_file})\n" in standalone.banner
    # The API accepted that login (Api logs in with it) and all components are up.
    health = standalone.api.get("/api/v2/monitor/health")
    assert {health[c]["status"] for c in ("scheduler", "dag_processor", "metadatabase")} == {
        "healthy"}


def test_a_broken_config_is_one_import_error_beside_the_running_dag(
    standalone: Standalone, scheduled_run: dict[str, str]
) -> None:
    errors = wait_for("the import error", lambda: (standalone.api.get(
        "/api/v2/importErrors") or {}).get("import_errors"), timeout=60)
    [error] = errors
    assert error["filename"] == "lockgate_config_errors.py"
    broken = standalone.site.config_dir / "broken.yaml"
    assert (f"{broken}:4: components[0].component: unknown component 'StatisticGen'; did you "
            "mean 'StatisticsGen'?") in error["stack_trace"]


def test_the_scheduler_runs_the_dag_in_worker_processes(
    standalone: Standalone, scheduled_run: dict[str, str]
) -> None:
    site = standalone.site
    # The unblessed model is not canaried (a negative InfraBlessing says why, so the Pusher
    # still runs and records its own skip), and neither pushed nor used for bulk inference.
    assert scheduled_run == {**{n: "success" for n in NODES[:-2]}, "pusher": "skipped",
                             "bulk_inferrer": "skipped"}
    executions = site.executions(RUN_ID)
    assert {e.run_id for e in executions} == {RUN_ID}
    # Same data, code and params as the `dags test` run: cache hits, recorded per node...
    assert [(e.node_id, e.state) for e in executions[:5]] == [(n, "CACHED") for n in NODES[:5]]
    # ... but the Trainer's and Evaluator's params changed, so they ran, in worker processes.
    assert sorted((e.node_id, e.state) for e in executions[5:]) == sorted(
        (n, "COMPLETE") for n in NODES[5:])
    assert "trainer: complete in" in site.task_log(RUN_ID, "trainer")
    evaluator_log = site.task_log(RUN_ID, "evaluator")
    assert "evaluator: execution" in evaluator_log
    assert "evaluator: complete in" in evaluator_log and "not blessed: " in evaluator_log


def test_an_unblessed_model_skips_the_pusher_and_pushes_nothing(
    standalone: Standalone, scheduled_run: dict[str, str]
) -> None:
    site = standalone.site
    assert scheduled_run["pusher"] == "skipped"
    [pusher] = [e for e in site.executions(RUN_ID) if e.node_id == "pusher"]
    assert pusher.outcome == "skipped" and pusher.message.startswith("not blessed: ")
    assert site.served_versions() == ["1"]  # only the `dags test` run's push
    events = standalone.api.get("/api/v2/assets/events", source_run_id=RUN_ID)
    assert events["asset_events"] == []
    log = site.task_log(RUN_ID, "pusher")
    assert "pusher: skipped in" in log and "not blessed: " in log
    assert "sparse_categorical_accuracy" in log  # the reason names the failing metric


def strict_schema(directory: Path) -> Path:
    """The curated schema with body mass capped at 5 kg: many penguins now break it."""
    text = (REPO / "schemas" / "penguin" / "schema.pbtxt").read_text()
    loose = "float_domain { min: 1000.0 max: 10000.0 "
    assert loose in text
    path = directory / "strict_schema.pbtxt"
    path.write_text(text.replace(loose, "float_domain { min: 1000.0 max: 5000.0 "))
    return path


def test_validator_anomalies_fail_the_run_without_retry(
    standalone: Standalone, scheduled_run: dict[str, str]
) -> None:
    site = standalone.site
    schema = strict_schema(site.root)

    def stricter(config: dict[str, Any]) -> None:
        retrain_with_impossible_threshold(config)
        component(config, "SchemaGen")["params"]["schema_file"] = str(schema)

    config_variant(site.config_dir, stricter)  # read when the tasks run: no re-parse needed
    state, tasks = trigger_and_wait(standalone, HALTED_RUN_ID)
    assert state == "failed"
    validator = tasks["example_validator"]
    # The DAG allows a retry (retries: 1), but bad data would fail again: it was not retried.
    assert (validator["state"], validator["try_number"]) == ("failed", 1)
    assert {n: tasks[n]["state"] for n in NODES[4:]} == dict.fromkeys(NODES[4:],
                                                                      "upstream_failed")
    [halted] = [e for e in site.executions(HALTED_RUN_ID) if e.node_id == "example_validator"]
    assert (halted.state, halted.outcome) == ("FAILED", "halted")
    # The task log lists the anomalies and where the report is.
    log = site.task_log(HALTED_RUN_ID, "example_validator")
    assert "body_mass_g" in log
    report = site.lockgate_home / "pipelines" / "penguin" / "example_validator" / "anomalies" / (
        f"{halted.id}") / "report.html"
    assert report.is_file() and f"report: {report}" in log
