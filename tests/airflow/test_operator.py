"""The operator's outcome mapping, through the real launcher and a real SQLite MLMD.

The executors are tiny fakes (no heavy libraries); what is under test is how each launcher
outcome becomes an Airflow task state: success, skip, fail-without-retry, or retry.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from pipelines.airflow.operator import LockgateNodeOperator, ThrottledProgress, run_node
from pipelines.graph import Pipeline
from pipelines.launcher import NodeFailed
from pipelines.metadata.store import LineageStore
from tests.airflow.fake_nodes import raising_pipeline
from tests.pipelines.fake_components import FakeParams, fake_pipeline

LOG = logging.getLogger("lockgate.test.operator")


def states(pipeline_name: str, run_id: str, pipeline: Pipeline) -> list[tuple[str, str, str]]:
    store = LineageStore(pipeline.config.metadata)
    return [(e.node_id, e.state, e.outcome) for e in store.run_executions(pipeline_name, run_id)]


def test_complete_logs_outputs(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = fake_pipeline()
    with caplog.at_level(logging.INFO):
        result = run_node(pipeline, "gen", "manual__1", LOG)
        run_node(pipeline, "stats", "manual__1", LOG)
    assert result.status == "complete"
    assert f"output examples: {result.outputs['examples'][0].uri}" in caplog.text
    assert states("fake", "manual__1", pipeline) == [
        ("gen", "COMPLETE", "complete"), ("stats", "COMPLETE", "complete")
    ]


def test_halted_fails_the_task_without_retry(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = fake_pipeline(gen=FakeParams(outcome="halted"))
    with pytest.raises(AirflowFailException, match="gen halted the run"):
        run_node(pipeline, "gen", "manual__halt", LOG)
    assert states("fake", "manual__halt", pipeline) == [("gen", "FAILED", "halted")]
    assert "gen: halted" in caplog.text


def test_skipped_skips_the_task(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = fake_pipeline(gen=FakeParams(outcome="skipped"))
    with pytest.raises(AirflowSkipException, match="gen skipped"):
        run_node(pipeline, "gen", "manual__skip", LOG)
    assert states("fake", "manual__skip", pipeline) == [("gen", "COMPLETE", "skipped")]
    assert "gen: skipped" in caplog.text


@pytest.mark.parametrize(
    ("error", "expected"),
    [("data", "column 'body_mass_g' is missing"), ("user_code", "user code in model.py failed")],
)
def test_bad_data_and_user_code_fail_without_retry(error: str, expected: str) -> None:
    pipeline = raising_pipeline(error)
    with pytest.raises(AirflowFailException, match=expected) as caught:
        run_node(pipeline, "node", "manual__bad", LOG)
    assert isinstance(caught.value.__cause__, NodeFailed)
    assert states("raiser", "manual__bad", pipeline) == [("node", "FAILED", "failed")]


def test_other_errors_are_reraised_so_airflow_retries_cleanly() -> None:
    pipeline = raising_pipeline("runtime")
    with pytest.raises(NodeFailed, match="MemoryError: worker ran out of memory") as caught:
        run_node(pipeline, "node", "manual__oom", LOG)
    assert not isinstance(caught.value, AirflowFailException)
    # The retry (a fresh process in Airflow) finds the failed attempt recorded, not RUNNING.
    with pytest.raises(NodeFailed):
        run_node(pipeline, "node", "manual__oom", LOG)
    assert states("raiser", "manual__oom", pipeline) == [("node", "FAILED", "failed")] * 2


def test_a_missing_upstream_input_fails_without_retry() -> None:
    pipeline = fake_pipeline()
    with pytest.raises(AirflowFailException, match="'gen' has not completed in that run"):
        run_node(pipeline, "stats", "manual__cleared", LOG)


def test_execute_fails_clearly_when_the_config_broke_after_parsing(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("pipeline: {name: p}\ncomponents:\n  - component: StatisticGen\n")
    operator = LockgateNodeOperator(task_id="statistics_gen", config_path=str(config),
                                    pipeline_node="statistics_gen")
    with pytest.raises(AirflowFailException, match=rf"{config}:3: .*did you mean 'StatisticsGen'"):
        operator.execute({"run_id": "manual__1"})


def test_operator_carries_names_only() -> None:
    # __init__ must not read the config: the scheduler builds operators on every parse.
    operator = LockgateNodeOperator(task_id="t", config_path="/nonexistent.yaml",
                                    pipeline_node="trainer")
    assert (operator.config_path, operator.pipeline_node) == ("/nonexistent.yaml", "trainer")
    assert operator.do_xcom_push is False
    init_args = set(inspect.signature(LockgateNodeOperator.__init__).parameters) - {"self",
                                                                                    "kwargs"}
    assert set(LockgateNodeOperator.template_fields) == init_args


def test_progress_is_throttled(caplog: pytest.LogCaptureFixture) -> None:
    progress = ThrottledProgress(LOG, "trainer", interval=3600)
    with caplog.at_level(logging.INFO):
        for step in range(1, 301):
            progress(step, 300, "training")
        progress(0, None, "exporting the serving model")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "trainer: training 1/300 (0%)",
        "trainer: training 300/300 (100%)",
        "trainer: exporting the serving model",
    ]


def test_execute_describes_the_outlet_event_of_each_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    monkeypatch.setattr("pipelines.airflow.operator.load_pipeline", lambda path: fake_pipeline())
    asset = Asset(name="lockgate.fake.gen", uri="lockgate://fake/gen")
    operator = LockgateNodeOperator(task_id="gen", config_path="fake.yaml", pipeline_node="gen",
                                    outlets=[asset])
    extras = []
    for run_id in ("manual__1", "manual__2"):
        events = OutletEventAccessors()
        operator.execute({"run_id": run_id, "outlet_events": events})
        extras.append(events[asset].extra)
    first, second = extras
    assert (first["status"], first["run_id"]) == ("complete", "manual__1")
    assert str(first["uri"]).endswith(f"/gen/examples/{first['execution_id']}")
    # The same inputs again: a cache hit, which the event reports as nothing new.
    assert (second["status"], second["uri"]) == ("cached", first["uri"])


def test_library_info_lines_are_quieted_unless_configured() -> None:
    from pipelines.airflow.operator import quiet_library_loggers

    beam, absl = logging.getLogger("apache_beam"), logging.getLogger("absl")
    absl.setLevel(logging.DEBUG)  # someone asked for absl's details: keep them
    try:
        quiet_library_loggers()
        assert (beam.level, absl.level) == (logging.WARNING, logging.DEBUG)
    finally:
        beam.setLevel(logging.NOTSET)
        absl.setLevel(logging.NOTSET)


def test_execute_fails_clearly_when_the_node_left_the_config(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("pipeline: {name: p}\ncomponents:\n  - component: ExampleGen\n"
                      "    params: {input: data.csv}\n")
    operator = LockgateNodeOperator(task_id="trainer", config_path=str(config),
                                    pipeline_node="trainer")
    with pytest.raises(AirflowFailException, match="has no node 'trainer' any more"):
        operator.execute({"run_id": "manual__1"})
