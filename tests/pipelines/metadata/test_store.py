"""The lineage store against real SQLite MLMD: events and how they read back."""

from __future__ import annotations

from pathlib import Path

from pipelines.component import Artifact
from pipelines.metadata.store import LineageStore
from tests.pipelines.fake_components import fake_pipeline


def test_one_artifact_on_two_input_ports_keeps_both_roles(lockgate_home: Path) -> None:
    # A re-evaluated model is also its own blessed baseline; MLMD allows one INPUT event per
    # artifact and execution, so the event must carry both ports.
    pipeline = fake_pipeline()
    store = LineageStore(pipeline.config.metadata)
    spec = pipeline.nodes["stats"].spec
    contexts = store.contexts("fake", "r1", "stats")
    producer = store.start_execution(spec, "stats", "r1", contexts, {})
    model = Artifact(type="Model", uri=str(lockgate_home / "model"))
    [published] = store.finish_execution(
        producer, contexts, state="COMPLETE", outcome="complete", outputs={"model": [model]}
    )["model"]

    consumer = store.start_execution(
        spec, "stats", "r1", contexts, {"model": [published], "baseline_model": [published]}
    )

    inputs = store.inputs_of(consumer)
    assert [a.id for a in inputs["model"]] == [published.id]
    assert [a.id for a in inputs["baseline_model"]] == [published.id]
    [event] = [e for e in store.mlmd.get_events_by_execution_ids([consumer])
               if e.type == store.pb.Event.INPUT]
    assert [s.key for s in event.path.steps if s.HasField("key")] == ["model", "baseline_model"]
