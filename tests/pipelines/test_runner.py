"""The local runner: order, stop on failure, and resume of only what did not complete."""

from __future__ import annotations

from pathlib import Path

from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from tests.pipelines.fake_components import FakeParams, fake_pipeline


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
