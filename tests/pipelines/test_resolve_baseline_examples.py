"""The ``baseline_examples`` resolver against real SQLite MLMD: the Examples that the execution
which blessed the latest blessed model read on its ``examples`` port."""

from __future__ import annotations

from pathlib import Path

from pipelines.component import Artifact
from pipelines.metadata.store import LineageStore
from pipelines.resolve import baseline_examples, latest_blessed_model
from tests.pipelines.fake_components import fake_pipeline


class Lineage:
    """Writes executions of one fake node into a real store."""

    def __init__(self, home: Path) -> None:
        self.pipeline = fake_pipeline()
        self.store = LineageStore(self.pipeline.config.metadata)
        self.spec = self.pipeline.nodes["stats"].spec
        self.home = home
        self.runs = 0

    def execute(self, inputs: dict[str, list[Artifact]],
                outputs: dict[str, list[Artifact]]) -> dict[str, list[Artifact]]:
        self.runs += 1
        contexts = self.store.contexts("fake", f"r{self.runs}", "stats")
        execution = self.store.start_execution(self.spec, "stats", f"r{self.runs}", contexts,
                                               inputs)
        return self.store.finish_execution(execution, contexts, state="COMPLETE",
                                           outcome="complete", outputs=outputs)

    def artifact(self, kind: str, name: str, **properties: object) -> Artifact:
        [made] = self.execute({}, {"out": [Artifact(kind, str(self.home / name),
                                                    properties=dict(properties))]})["out"]
        return made

    def blessing(self, model: Artifact, blessed: int, override: bool = False,
                 **inputs: list[Artifact]) -> None:
        properties: dict[str, object] = {"blessed": blessed, "model_id": model.id}
        if override:  # as `lockgate bless` marks its blessings
            properties["override"] = 1
        self.execute({"model": [model], **inputs}, {"blessing": [Artifact(
            "ModelBlessing", str(self.home / f"blessing-{self.runs}"), properties=properties)]})


def test_the_examples_the_latest_blessed_model_was_blessed_on(lockgate_home: Path) -> None:
    lineage = Lineage(lockgate_home)
    contexts = lineage.store.contexts("fake", "now", "evaluator")
    assert baseline_examples(lineage.store, contexts.pipeline) == []  # nothing blessed yet

    span_1 = lineage.artifact("Examples", "span-1", span=1)
    span_2 = lineage.artifact("Examples", "span-2", span=2)
    model_1, model_2 = lineage.artifact("Model", "m1"), lineage.artifact("Model", "m2")
    lineage.blessing(model_1, 1, examples=[span_1], reference_examples=[span_1])
    assert [a.id for a in baseline_examples(lineage.store, contexts.pipeline)] == [span_1.id]

    # A refused candidate's Examples never become the reference.
    lineage.blessing(model_2, 0, examples=[span_2], reference_examples=[span_1])
    assert [a.id for a in baseline_examples(lineage.store, contexts.pipeline)] == [span_1.id]

    # A blessing by hand is passed over for the model's Evaluator blessing, even one that
    # read Examples (the refused span's).
    lineage.blessing(model_1, 1, override=True, examples=[span_2])
    assert [a.id for a in latest_blessed_model(lineage.store, contexts.pipeline)] == [model_1.id]
    assert [a.id for a in baseline_examples(lineage.store, contexts.pipeline)] == [span_1.id]

    # A hand-blessed model no Evaluator blessed has no reference.
    lineage.blessing(model_2, 1, override=True)
    assert [a.id for a in latest_blessed_model(lineage.store, contexts.pipeline)] == [model_2.id]
    assert baseline_examples(lineage.store, contexts.pipeline) == []

    # Once blessed by an Evaluator on span 2, span 2 is the reference.
    model_3 = lineage.artifact("Model", "m3")
    lineage.blessing(model_3, 1, examples=[span_2], reference_examples=[span_1])
    [found] = baseline_examples(lineage.store, contexts.pipeline)
    assert (found.id, found.properties["span"]) == (span_2.id, 2)
