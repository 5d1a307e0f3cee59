"""The launcher against real SQLite MLMD: lineage, atomic publish, and failure handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.launcher import NodeFailed, launch
from pipelines.metadata.store import LineageStore
from pipelines.resolve import MissingInputError
from tests.pipelines.fake_components import FakeParams, fake_pipeline


def test_lineage_of_a_two_node_run(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    gen = launch(pipeline, "gen", "r1")
    stats = launch(pipeline, "stats", "r1")
    store = LineageStore(pipeline.config.metadata)

    [gen_exec, stats_exec] = store.run_executions("fake", "r1")
    assert (gen_exec.state, stats_exec.state) == ("COMPLETE", "COMPLETE")
    assert gen_exec.type == "lockgate.FakeGen" and gen_exec.node_id == "gen"

    [examples] = store.outputs_of(gen.execution_id or 0)["examples"]
    expected_uri = lockgate_home / "pipelines/fake/gen/examples" / str(gen.execution_id)
    assert examples.uri == str(expected_uri)
    assert examples.properties["span"] == 3
    assert len(examples.properties["fingerprint"]) == 32
    # The consumer has an INPUT event on exactly the producer's output.
    assert [a.id for a in store.inputs_of(stats.execution_id or 0)["examples"]] == [examples.id]
    [statistics] = store.outputs_of(stats.execution_id or 0)["statistics"]
    assert Path(statistics.uri, "stats.txt").read_text() == "ROWS FROM R1\n"
    assert statistics.properties["span"] == 3  # derived artifacts carry their data's span
    assert not list((lockgate_home / "pipelines/fake").rglob(".staging-*"))


def test_failure_is_recorded_and_unreachable(lockgate_home: Path) -> None:
    pipeline = fake_pipeline(gen=FakeParams(fail=True))
    with pytest.raises(NodeFailed, match="node 'gen' failed: RuntimeError: disk on fire"):
        launch(pipeline, "gen", "r1")
    store = LineageStore(pipeline.config.metadata)
    [execution] = store.run_executions("fake", "r1")
    assert execution.state == "FAILED"
    assert "disk on fire" in execution.message
    assert store.outputs_of(execution.id) == {}
    # The partial file the executor wrote is gone, and downstream cannot resolve anything.
    assert not list((lockgate_home / "pipelines/fake").rglob("data.txt"))
    with pytest.raises(MissingInputError, match=r"needs 'gen\.examples' from run 'r1'"):
        launch(pipeline, "stats", "r1")


def test_retry_after_a_dead_process_starts_clean(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    store = LineageStore(pipeline.config.metadata)
    contexts = store.contexts("fake", "r1", "gen")
    dead = store.start_execution(pipeline.nodes["gen"].spec, "gen", "r1", contexts, {})
    result = launch(pipeline, "gen", "r1")
    states = {e.id: (e.state, e.message) for e in store.run_executions("fake", "r1")}
    assert states[dead][0] == "FAILED" and "abandoned" in states[dead][1]
    assert states[result.execution_id or 0][0] == "COMPLETE"


def test_retry_removes_the_dead_attempts_staging(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    store = LineageStore(pipeline.config.metadata)
    contexts = store.contexts("fake", "r1", "gen")
    dead = store.start_execution(pipeline.nodes["gen"].spec, "gen", "r1", contexts, {})
    partial = lockgate_home / f"pipelines/fake/gen/examples/.staging-{dead}-0badf00d"
    partial.mkdir(parents=True)
    (partial / "data.txt").write_text("half a file")  # what a kill -9 leaves behind
    launch(pipeline, "gen", "r1")
    assert not partial.exists()
    assert not list((lockgate_home / "pipelines/fake").rglob(".staging-*"))


def test_halted_publishes_for_inspection_but_stops(lockgate_home: Path) -> None:
    pipeline = fake_pipeline(gen=FakeParams(outcome="halted"))
    result = launch(pipeline, "gen", "r1")
    assert result.status == "halted"
    store = LineageStore(pipeline.config.metadata)
    [execution] = store.run_executions("fake", "r1")
    assert (execution.state, execution.outcome) == ("FAILED", "halted")
    assert store.outputs_of(execution.id)["examples"]  # the report stays readable
    with pytest.raises(MissingInputError):
        launch(pipeline, "stats", "r1")


def test_skipped_records_no_outputs(lockgate_home: Path) -> None:
    pipeline = fake_pipeline(gen=FakeParams(outcome="skipped"))
    result = launch(pipeline, "gen", "r1")
    assert result.status == "skipped" and result.outputs == {}
    store = LineageStore(pipeline.config.metadata)
    [execution] = store.run_executions("fake", "r1")
    assert (execution.state, execution.outcome) == ("COMPLETE", "skipped")
    assert not (lockgate_home / "pipelines/fake/gen/examples").exists() or not any(
        (lockgate_home / "pipelines/fake/gen/examples").iterdir()
    )


def test_a_replaced_store_never_touches_the_files_of_earlier_artifacts(
    lockgate_home: Path,
) -> None:
    """A deleted or replaced ML Metadata store counts execution ids from 1 again; the new
    executions must publish beside the old directories, not into them or over them."""
    pipeline = fake_pipeline()
    first = launch(pipeline, "gen", "r1")
    old = lockgate_home / "pipelines/fake/gen/examples" / str(first.execution_id)
    before = {p.name: p.read_bytes() for p in old.iterdir()}
    (lockgate_home / "metadata.sqlite").unlink()  # a fresh store under the same root

    second = launch(pipeline, "gen", "r1")
    assert second.execution_id == first.execution_id  # the same id again...
    [examples] = LineageStore(pipeline.config.metadata).outputs_of(
        second.execution_id or 0)["examples"]
    assert examples.uri == f"{old}-2"  # ...published beside the old directory
    assert {p.name: p.read_bytes() for p in old.iterdir()} == before
    assert not list((lockgate_home / "pipelines/fake").rglob(".staging-*"))
