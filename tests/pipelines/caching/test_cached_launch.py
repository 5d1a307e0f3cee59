"""Cache hits through the launcher against real SQLite MLMD."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.graph import Pipeline
from pipelines.launcher import launch
from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from tests.pipelines import fake_components
from tests.pipelines.fake_components import fake_pipeline


@pytest.fixture(autouse=True)
def source_v1() -> Iterator[None]:
    fake_components.SOURCE_VERSION[0] = "v1"
    yield
    fake_components.SOURCE_VERSION[0] = "v1"


def artifact_count(store: LineageStore) -> int:
    return len(store.mlmd.get_artifacts())


def test_second_run_is_cached_with_full_lineage(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    assert run_pipeline(pipeline, "r1").ok
    store = LineageStore(pipeline.config.metadata)
    before = artifact_count(store)

    second = run_pipeline(pipeline, "r2")
    assert [r.status for r in second.results] == ["cached", "cached"]
    assert artifact_count(store) == before  # nothing new was produced
    r1 = store.run_executions("fake", "r1")
    r2 = store.run_executions("fake", "r2")
    assert [e.state for e in r2] == ["CACHED", "CACHED"]
    # The cached consumer records INPUT and OUTPUT events to the very same artifacts.
    assert store.outputs_of(r2[0].id) == store.outputs_of(r1[0].id)
    assert store.inputs_of(r2[1].id) == store.inputs_of(r1[1].id)
    assert store.outputs_of(r2[1].id) == store.outputs_of(r1[1].id)


def test_changed_source_reruns_everything_downstream(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    run_pipeline(pipeline, "r1")
    fake_components.SOURCE_VERSION[0] = "v2"
    assert [r.status for r in run_pipeline(pipeline, "r2").results] == ["complete", "complete"]


def test_no_cache_and_per_node_override(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    run_pipeline(pipeline, "r1")
    forced = run_pipeline(pipeline, "r2", use_cache=False)
    assert [r.status for r in forced.results] == ["complete", "complete"]

    stats = pipeline.nodes["stats"]
    uncached = Pipeline(pipeline.config, {
        **pipeline.nodes,
        "stats": stats.__class__(stats.id, stats.entry.model_copy(update={"cache": False}),
                                 stats.spec, stats.channels),
    })
    assert [r.status for r in run_pipeline(uncached, "r3").results] == ["cached", "complete"]


def test_hit_needs_live_outputs(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    first = launch(pipeline, "gen", "r1")
    store = LineageStore(pipeline.config.metadata)
    [proto] = store.mlmd.get_artifacts_by_id([first.outputs["examples"][0].id or 0])
    proto.state = store.pb.Artifact.DELETED  # e.g. garbage-collected
    store.mlmd.put_artifacts([proto])
    assert launch(pipeline, "gen", "r2").status == "complete"
