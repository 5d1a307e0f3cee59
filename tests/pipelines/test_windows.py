"""Span windows on tiny real components and a real SQLite store: which spans the window reads,
that a daily run ingests only the new span, and min_spans skipping visibly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from pipelines.windows import SpanWindow, current_span, window_spans
from tests.pipelines import fake_components
from tests.pipelines.fake_components import FakeParams, fake_pipeline


@pytest.fixture
def days(lockgate_home: Path) -> Iterator[list[int]]:
    """The spans on disk, which a test adds to as days pass."""
    saved = list(fake_components.AVAILABLE_SPANS)
    fake_components.AVAILABLE_SPANS[:] = [1, 2, 3]
    yield fake_components.AVAILABLE_SPANS
    fake_components.AVAILABLE_SPANS[:] = saved


def test_window_spans() -> None:
    latest = SpanWindow(latest=3)
    assert window_spans(latest, [1, 2, 4, 5, 9], 5) == [2, 4, 5]
    assert window_spans(latest, [1, 2, 4, 5, 9], 1) == [1]
    assert window_spans(SpanWindow(range=(2, 5)), [1, 2, 4, 5, 9], 9) == [2, 4, 5]
    assert window_spans(None, [1, 2], 2) == [2]
    assert current_span(SpanWindow(range=(2, 5)), [1, 2, 4, 5, 9]) == 5
    assert current_span(latest, [1, 2, 9]) == 9
    with pytest.raises(ValueError, match="exactly one of latest"):
        SpanWindow(latest=2, range=(1, 2))
    with pytest.raises(ValueError, match="ends before it starts"):
        SpanWindow(range=(5, 2))


def read_spans(store: LineageStore, run_id: str) -> list[int]:
    [stats] = [e for e in store.run_executions("fake", run_id) if e.node_id == "stats"]
    return [a.properties["span"] for a in store.inputs_of(stats.id)["examples"]]


def ingested(store: LineageStore) -> list[int]:
    """The span of every execution that really read its source (not a cache hit)."""
    return sorted(
        store.outputs_of(e.id)["examples"][0].properties["span"]
        for run in store.run_ids("fake") for e in store.run_executions("fake", run)
        if e.node_id == "gen" and e.outcome == "complete")


def test_a_cold_run_ingests_the_window_and_a_daily_run_only_the_new_span(
    days: list[int],
) -> None:
    pipeline = fake_pipeline(gen=FakeParams(window=SpanWindow(latest=2)))
    store = LineageStore(pipeline.config.metadata)
    cold = run_pipeline(pipeline, "day-3")
    assert cold.ok and [p.run_id for p in cold.prepared] == ["day-3.span-2"]
    assert read_spans(store, "day-3") == [2, 3]
    assert store.run_span("fake", "day-3") == 3  # pinned, so every task agrees

    days.append(4)
    daily = run_pipeline(pipeline, "day-4")
    assert daily.ok and daily.prepared == []  # span 3 was ingested yesterday: not read again
    assert read_spans(store, "day-4") == [3, 4]
    assert ingested(store) == [2, 3, 4]

    # Span 3's file is replaced: the next window ingests it again.
    fake_components.SOURCE_VERSION[0] = "v2"
    try:
        days.append(5)
        fixed = run_pipeline(pipeline, "day-5")
    finally:
        fake_components.SOURCE_VERSION[0] = "v1"
    assert fixed.ok and [p.run_id for p in fixed.prepared] == ["day-5.span-4"]
    assert read_spans(store, "day-5") == [4, 5]


def test_too_few_spans_skip_the_window_readers_visibly(days: list[int]) -> None:
    days[:] = [1]
    pipeline = fake_pipeline(gen=FakeParams(window=SpanWindow(latest=7, min_spans=2)))
    summary = run_pipeline(pipeline, "day-1")
    assert summary.ok
    assert [(r.node_id, r.status) for r in summary.results] == [
        ("gen", "complete"), ("stats", "skipped")]
    assert summary.results[1].message == (
        "not enough data yet: the window holds 1 span(s) (1), fewer than min_spans 2; "
        "skipped until more spans have landed")
    days.append(2)
    second = run_pipeline(pipeline, "day-2")
    assert [(r.node_id, r.status) for r in second.results] == [
        ("gen", "complete"), ("stats", "complete")]


def test_nodes_downstream_of_a_skip_are_skipped_as_airflow_does(days: list[int]) -> None:
    summary = run_pipeline(fake_pipeline(gen=FakeParams(outcome="skipped")), "r1")
    assert summary.ok and [r.node_id for r in summary.results] == ["gen"]
    assert summary.skipped == ["stats"]
