"""``lockgate runs`` and ``lockgate show`` on runs of tiny real components: halted, failed,
cached and an Airflow-style run, all through the real launcher and a real SQLite store."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config.models import SqliteMetadata
from pipelines.launcher import NodeFailed, launch
from pipelines.lineage.runs import list_runs, show_run
from pipelines.lineage.target import NotFound
from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from tests.helpers import REPO
from tests.pipelines.fake_components import FakeParams, fake_pipeline

AIRFLOW_RUN = "manual__2026-12-04T04:00:00.123456+00:00"


@pytest.fixture
def store(lockgate_home: Path) -> LineageStore:
    assert run_pipeline(fake_pipeline(), "first").ok
    assert run_pipeline(fake_pipeline(), "again").ok  # every node a cache hit
    assert not run_pipeline(fake_pipeline(gen=FakeParams(outcome="halted")), "stopped").ok
    assert run_pipeline(fake_pipeline(stats=FakeParams(fail=True)), "broken").failure
    pipeline = fake_pipeline(stats=FakeParams(outcome="complete", fail=False))
    for node in pipeline.order:  # as the Airflow operator does: one launch per task
        launch(pipeline, node, AIRFLOW_RUN)
    return LineageStore(SqliteMetadata())


def test_runs_lists_every_run_newest_first_with_its_status(store: LineageStore) -> None:
    runs = list_runs(store, "fake")
    assert [r.run_id for r in runs] == [AIRFLOW_RUN, "broken", "stopped", "again", "first"]
    status = {r.run_id: r.status for r in runs}
    assert status == {AIRFLOW_RUN: "ok", "broken": "failed at stats", "stopped": "halted at gen",
                      "again": "ok", "first": "ok"}
    assert all(r.spans == [3] for r in runs)  # the fake ExampleGen's span, read from MLMD
    assert [r.run_id for r in list_runs(store, "fake", limit=2)] == [AIRFLOW_RUN, "broken"]
    assert list_runs(store, "other") == []


def test_runs_command_prints_a_table_and_json(store: LineageStore,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "fake", "--limit", "3"]) == 0
    table = capsys.readouterr().out
    assert "failed at stats" in table and "halted at gen" in table and "first" not in table
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["run_id"] == AIRFLOW_RUN and rows[0]["pipeline"] == "fake"
    assert {"started", "seconds", "status", "spans", "pushed"} <= set(rows[0])


def test_show_a_cached_run_names_the_cache_hits(store: LineageStore) -> None:
    detail = show_run(store, "again", "fake")
    assert [(n.execution.node_id, n.cached) for n in detail.nodes] == [
        ("gen", True), ("stats", True)]
    assert "reused the outputs of execution" in detail.nodes[0].execution.message
    first = show_run(store, "first")
    assert [n.cached for n in first.nodes] == [False, False]


def test_show_a_failed_run_gives_the_log_path_and_the_author_frame(
    store: LineageStore, capsys: pytest.CaptureFixture[str]
) -> None:
    detail = show_run(store, "broken")
    failed = detail.nodes[-1]
    assert failed.execution.outcome == "failed"
    assert failed.log_path.endswith("error.log") and Path(failed.log_path).is_file()
    assert "out of memory" in failed.execution.message
    assert main(["show", "broken", "--pipeline", "fake"]) == 0
    out = capsys.readouterr().out
    assert "failed at stats" in out and failed.log_path in out
    assert main(["show", "broken", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["nodes"][-1]["log_path"] == failed.log_path
    assert record["run"]["status"] == "failed at stats"


def test_show_a_halted_run_and_an_airflow_run(store: LineageStore) -> None:
    halted = show_run(store, "stopped")
    assert halted.run.status == "halted at gen"
    assert [n.execution.outcome for n in halted.nodes] == ["halted"]
    airflow = show_run(store, AIRFLOW_RUN)
    assert airflow.run.status == "ok" and len(airflow.nodes) == 2
    assert {n.execution.run_id for n in airflow.nodes} == {AIRFLOW_RUN}


def test_show_an_unknown_run_lists_the_newest(store: LineageStore,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        show_run(store, "nope")
    assert main(["show", "nope"]) == 2
    assert "broken" in capsys.readouterr().err


def test_runs_reports_a_dead_process_as_died(store: LineageStore) -> None:
    pipeline = fake_pipeline()
    contexts = store.contexts("fake", "killed", "gen")
    execution = store.start_execution(pipeline.nodes["gen"].spec, "gen", "killed", contexts, {})
    [proto] = store.mlmd.get_executions_by_id([execution])
    dead = f"{socket.gethostname()}:999999999:1"  # this host, no such process
    proto.custom_properties["owner"].string_value = dead
    store.mlmd.put_executions([proto])
    [run] = list_runs(store, "fake", limit=1)
    assert (run.run_id, run.status) == ("killed", "died at gen")
    proto.custom_properties["owner"].string_value = "another-host:1:1"  # cannot tell: running
    store.mlmd.put_executions([proto])
    assert list_runs(store, "fake", limit=1)[0].status == "running gen"


def test_a_failing_launch_still_raises(lockgate_home: Path) -> None:
    pipeline = fake_pipeline(gen=FakeParams(fail=True))
    with pytest.raises(NodeFailed):
        launch(pipeline, "gen", "x")
    [run] = list_runs(LineageStore(SqliteMetadata()), "fake")
    assert run.status == "failed at gen"


def test_an_airflow_run_between_two_tasks_is_running_not_ok(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    launch(pipeline, "gen", AIRFLOW_RUN)  # the scheduler has not started the next task yet
    store = LineageStore(SqliteMetadata())
    assert show_run(store, AIRFLOW_RUN).run.status == "running: waiting for stats"
    launch(pipeline, "stats", AIRFLOW_RUN)
    assert show_run(store, AIRFLOW_RUN).run.status == "ok"
    # A skipped node's downstream tasks never run under Airflow: that run is finished.
    launch(fake_pipeline(gen=FakeParams(outcome="skipped")), "gen", "skipping")
    assert show_run(store, "skipping").run.status == "ok"


HEAVY = ("tensorflow", "apache_beam", "tensorflow_model_analysis", "tensorflow_data_validation",
         "tensorflow_transform", "pydantic")


@pytest.mark.parametrize("argv", [["runs", "--json"], ["show", "first", "--json"],
                                  ["lineage", "1", "--json"]])
def test_the_queries_import_no_heavy_library(store: LineageStore, argv: list[str]) -> None:
    """Each query is a whole process that must answer fast: what it imports is checked, in a
    fresh interpreter, after the command ran."""
    script = ("import sys\nfrom pipelines.cli import main\ncode = main(sys.argv[1:])\n"
              f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout[-2000:]
