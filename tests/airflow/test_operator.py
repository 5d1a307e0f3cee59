"""The operator's outcome mapping, through the real launcher and a real SQLite MLMD.

The executors are tiny fakes (no heavy libraries); what is under test is how each launcher
outcome becomes an Airflow task state: success, skip, fail-without-retry, or retry.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

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


def test_only_a_new_version_adds_an_event_to_the_pushed_model_asset() -> None:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from pipelines.airflow import pushed_model_alias, pushed_model_asset
    from pipelines.airflow.operator import _describe_outlet_events
    from pipelines.component import Artifact
    from pipelines.launcher import NodeResult

    alias = pushed_model_alias("p", "m")

    def events(status: str, new_version: int) -> list[Any]:
        pushed = Artifact(type="PushedModel", uri="/home/p/pusher/pushed_model/9", id=12,
                          properties={"model_name": "m", "version": 3, "new_version": new_version,
                                      "path": "/home/serving/m/3"})
        result = NodeResult("pusher", status, 9, 0.1,  # type: ignore[arg-type]
                            outputs={"pushed_model": [pushed]})
        accessors = OutletEventAccessors()
        _describe_outlet_events({"outlet_events": accessors},  # type: ignore[arg-type]
                                [alias], "p", result, "manual__1")
        return accessors[alias].asset_alias_events

    [event] = events("complete", 1)  # a new version: one event, on the model's Asset
    assert event.dest_asset_key.uri == pushed_model_asset("p", "m").uri
    assert (event.extra["version"], event.extra["path"], event.extra["run_id"]) == (
        3, "/home/serving/m/3", "manual__1")
    assert events("complete", 0) == []  # already serving: nothing new, no event
    assert events("cached", 1) == []  # a cache hit pushed nothing


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
