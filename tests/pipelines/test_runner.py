"""The local runner: order, stop on failure, and resume of only what did not complete."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.liveness import process_start
from pipelines.metadata.store import ExecutionBusy, LineageStore
from pipelines.run_lock import RunInProgress
from pipelines.runner import RunNotFound, run_pipeline
from tests.pipelines.fake_components import SOURCE_VERSION, FakeParams, fake_pipeline


def test_runs_in_order_and_resumes_only_the_failed_node(lockgate_home: Path) -> None:
    broken = run_pipeline(fake_pipeline(stats=FakeParams(fail=True)), "r1")
    assert not broken.ok
    assert [r.node_id for r in broken.results] == ["gen"]
    assert broken.failure is not None and broken.failure.node_id == "stats"

    resumed = run_pipeline(fake_pipeline(), "r1", resume=True)
    assert resumed.ok
    assert [r.node_id for r in resumed.results] == ["stats"]
    store = LineageStore(fake_pipeline().config.metadata)
    states = [(e.node_id, e.state) for e in store.run_executions("fake", "r1")]
    assert states == [("gen", "COMPLETE"), ("stats", "FAILED"), ("stats", "COMPLETE")]


def test_halt_stops_the_run(lockgate_home: Path) -> None:
    summary = run_pipeline(fake_pipeline(gen=FakeParams(outcome="halted")), "r1")
    assert summary.halted is not None and summary.halted.node_id == "gen"
    assert [r.node_id for r in summary.results] == ["gen"]
    assert not summary.ok


def test_resume_keeps_what_still_holds_and_reruns_what_changed(lockgate_home: Path) -> None:
    first = run_pipeline(fake_pipeline(stats=FakeParams(fail=True)), "r1")
    assert first.failure is not None
    kept = run_pipeline(fake_pipeline(), "r1", resume=True)
    assert kept.kept == ["gen"] and [r.node_id for r in kept.results] == ["stats"]

    # The source changed since (a fixed input file): resume reads it again, and re-runs
    # everything downstream, instead of trusting the run's earlier executions.
    SOURCE_VERSION[0] = "v2"
    try:
        again = run_pipeline(fake_pipeline(), "r1", resume=True)
    finally:
        SOURCE_VERSION[0] = "v1"
    assert again.kept == []
    assert [(r.node_id, r.status) for r in again.results] == [
        ("gen", "complete"), ("stats", "complete")]


def test_a_resumed_run_reads_the_span_it_started_with(lockgate_home: Path) -> None:
    """A backfill's run of span 2 that failed, resumed: it still reads span 2, not the latest."""
    failed = run_pipeline(fake_pipeline(stats=FakeParams(fail=True)), "fill-2", span=2)
    assert failed.failure is not None
    resumed = run_pipeline(fake_pipeline(), "fill-2", resume=True)
    assert resumed.ok and resumed.kept == ["gen"]
    store = LineageStore(fake_pipeline().config.metadata)
    [stats] = [e for e in store.run_executions("fake", "fill-2")
               if e.node_id == "stats" and e.state == "COMPLETE"]
    [examples] = store.inputs_of(stats.id)["examples"]
    assert examples.properties["span"] == 2


def test_resume_of_an_unknown_run_lists_the_recent_ones(lockgate_home: Path) -> None:
    run_pipeline(fake_pipeline(), "older")
    run_pipeline(fake_pipeline(), "newer")
    with pytest.raises(RunNotFound) as caught:
        run_pipeline(fake_pipeline(), "bogus", resume=True)
    message = str(caught.value)
    assert "pipeline fake has no run 'bogus' to resume" in message
    assert message.index("newer") < message.index("older")
    assert not LineageStore(fake_pipeline().config.metadata).run_exists("fake", "bogus")


def test_a_run_another_process_executes_is_refused(lockgate_home: Path) -> None:
    run_pipeline(fake_pipeline(stats=FakeParams(fail=True)), "r1")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lockgate_home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInProgress, match=r"run r1 of pipeline fake is being executed "
                                                r"right now by pid \d+ on "):
            run_pipeline(fake_pipeline(), "r1", resume=True)
    finally:
        holder.kill()
        holder.wait()
    assert run_pipeline(fake_pipeline(), "r1", resume=True).ok  # the lock died with it


HOLD_LOCK = """
import os, sys, time
os.environ["LOCKGATE_HOME"] = sys.argv[1]
from pipelines.run_lock import run_lock
with run_lock("fake", "r1"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_live_execution_is_not_abandoned(lockgate_home: Path) -> None:
    """A RUNNING execution whose owner still lives is refused; once it dies, it is abandoned."""
    pipeline = fake_pipeline()
    store = LineageStore(pipeline.config.metadata)
    contexts = store.contexts("fake", "r1", "gen")
    other = subprocess.Popen(["sleep", "60"])
    try:
        execution = store.start_execution(pipeline.nodes["gen"].spec, "gen", "r1", contexts, {})
        [proto] = store.mlmd.get_executions_by_id([execution])
        proto.custom_properties["owner"].string_value = (
            f"{socket.gethostname()}:{other.pid}:{process_start(other.pid)}")
        store.mlmd.put_executions([proto])
        with pytest.raises(ExecutionBusy) as caught:
            run_pipeline(pipeline, "r1")
    finally:
        other.kill()
        other.wait()
    assert "node 'gen' of this run is being executed right now by pid" in str(caught.value)
    assert run_pipeline(pipeline, "r1", resume=True).ok
    states = {e.id: e.state for e in store.run_executions("fake", "r1")}
    assert states[execution] == "FAILED"
