"""Walks along ML Metadata's events: an artifact's upstream (what made it) and downstream (what
was made from it), and ``lockgate lineage impact``.

Upstream follows each artifact to the execution that really wrote it (the first OUTPUT event;
cache hits that reused it are counted, not walked) and on to that execution's inputs.
Downstream follows every execution that read it, cache hits included, to their outputs.

An impact walk does not cross a comparison: an Evaluator reading a model as its baseline, or a
validator reading the previous span's statistics, compares the new data or model with it, but
is not made from it. Those readers are listed as comparisons instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lineage.graph import INPUT, OUTPUT, Artifact, Execution, Records
from pipelines.lineage.target import NotFound

# Input ports whose artifact is compared with, not built on (the standard components'
# optional inputs with a resolver; see components/*/__init__.py).
COMPARISON_PORTS = frozenset({"baseline_model", "reference_examples", "previous_statistics"})
# Input ports of a model a new one started from (the Trainer's warm start). The walk upstream
# shows it but does not go through it: the new model was trained on its own window's data, and
# the base model's lineage is its own (``lockgate lineage ID``).
HEAD_START_PORTS = frozenset({"base_model"})


@dataclass
class Step:
    """An artifact in a walk, the port it was on, and the executions on the far side."""

    artifact: Artifact
    port: str = ""
    executions: list[Hop] = field(default_factory=list)
    seen: bool = False  # already shown elsewhere in this walk

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {**_artifact_json(self.artifact), "port": self.port}
        if self.seen:
            record["seen_above"] = True
        if self.executions:
            record["executions"] = [h.to_json() for h in self.executions]
        return record


@dataclass
class Hop:
    execution: Execution
    port: str = ""  # the port the artifact was read on (downstream)
    artifacts: list[Step] = field(default_factory=list)
    reused_by: int = 0  # upstream: cache hits that reused this execution's outputs
    comparison: bool = False

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {**self.execution.to_json(), "port": self.port}
        if self.reused_by:
            record["reused_by_cache_hits"] = self.reused_by
        if self.comparison:
            record["comparison"] = True
        record["artifacts"] = [s.to_json() for s in self.artifacts]
        return record


def upstream(records: Records, artifact_id: int, depth: int = 50) -> Step:
    root = Step(_one(records, artifact_id))
    seen = {artifact_id}
    level = [root]
    for _ in range(depth):
        events = records.events_of_artifacts(s.artifact.id for s in level)
        producers: dict[int, list[int]] = {}
        for step in level:
            made = sorted(e.execution_id for e in events[step.artifact.id] if e.type == OUTPUT)
            if made:
                producers[step.artifact.id] = made
        executions = {e.id: e for e in records.load_executions(
            i for ids in producers.values() for i in ids)}
        inputs = records.events_of_executions(ids[0] for ids in producers.values())
        records.load_artifacts(e.artifact_id for evs in inputs.values() for e in evs
                               if e.type == INPUT)
        following = []
        for step in level:
            ids = producers.get(step.artifact.id)
            if not ids or ids[0] not in executions:
                continue
            hop = Hop(executions[ids[0]], reused_by=len(ids) - 1)
            step.executions.append(hop)
            for port, artifacts in sorted(records.inputs(hop.execution.id).items()):
                for artifact in artifacts:
                    child = Step(artifact, port, seen=artifact.id in seen)
                    hop.artifacts.append(child)
                    if not child.seen:
                        seen.add(artifact.id)
                        if port not in HEAD_START_PORTS:
                            following.append(child)
        if not following:
            break
        level = following
    return root


def downstream(records: Records, artifact_id: int, depth: int = 50,
               cross_comparisons: bool = True) -> Step:
    root = Step(_one(records, artifact_id))
    seen = {artifact_id}
    level = [root]
    for _ in range(depth):
        events = records.events_of_artifacts(s.artifact.id for s in level)
        readers = records.load_executions(e.execution_id for evs in events.values()
                                          for e in evs if e.type == INPUT)
        by_id = {e.id: e for e in readers}
        outputs = records.events_of_executions(by_id)
        records.load_artifacts(e.artifact_id for evs in outputs.values() for e in evs
                               if e.type == OUTPUT)
        following = []
        for step in level:
            for event in sorted(events[step.artifact.id], key=lambda e: e.execution_id):
                if event.type != INPUT or event.execution_id not in by_id:
                    continue
                compared = bool(set(event.ports) & COMPARISON_PORTS) and not (
                    set(event.ports) - COMPARISON_PORTS)
                hop = Hop(by_id[event.execution_id], ",".join(event.ports),
                          comparison=compared)
                step.executions.append(hop)
                if compared and not cross_comparisons:
                    continue
                for port, artifacts in sorted(records.outputs(hop.execution.id).items()):
                    for artifact in artifacts:
                        child = Step(artifact, port, seen=artifact.id in seen)
                        hop.artifacts.append(child)
                        if not child.seen:
                            seen.add(artifact.id)
                            following.append(child)
        if not following:
            break
        level = following
    return root


@dataclass
class Impact:
    """Everything made from some starting artifacts, by kind, and what of it is serving."""

    starts: list[Artifact]
    artifacts: list[Artifact]
    comparisons: list[tuple[Execution, Artifact]]  # (reader, the artifact it compared with)
    serving: dict[str, Any]  # model_name -> {version, model_id} serving now

    def models(self) -> list[Artifact]:
        return [a for a in self.artifacts if a.type == "Model"]

    def to_json(self) -> dict[str, Any]:
        serving_ids = {v.get("model_id") for v in self.serving.values()}
        return {
            "starts": [_artifact_json(a) for a in self.starts],
            "artifacts": [_artifact_json(a) for a in self.artifacts],
            "models": [{**_artifact_json(m), "serving": m.id in serving_ids}
                       for m in self.models()],
            "blessings": [_artifact_json(a) for a in self.artifacts
                          if a.type == "ModelBlessing"],
            "pushed": [{**_artifact_json(a), "serving": _pushed_serving(a, self.serving)}
                       for a in self.artifacts if a.type == "PushedModel"],
            "comparisons": [{"execution": e.to_json(), "compared_with": a.id}
                            for e, a in self.comparisons],
            "serving": self.serving,
        }


def starts_for(records: Records, pipeline: str | None, *, span: int | None = None,
               artifact: int | None = None, file: str | None = None) -> list[Artifact]:
    """The artifacts an impact query starts from: one id, a span's Examples, or the Examples
    that read a file."""
    if artifact is not None:
        return [_one(records, artifact)]
    examples = [a for a in _of_type(records, "Examples", pipeline)  # ExampleGen's outputs
                if "input_files" in a.properties]
    if span is not None:
        found = [a for a in examples if a.properties.get("span") == span]
        if not found:
            spans = sorted({int(a.properties["span"]) for a in examples
                            if a.properties.get("span") is not None})
            raise NotFound(f"no Examples of span {span}{_in(pipeline)}; spans read: "
                           f"{', '.join(map(str, spans)) or 'none'}")
        return found
    assert file is not None
    wanted = str(Path(file).resolve())
    found = [a for a in examples
             if wanted in {str(Path(f).resolve()) for f in a.json_property("input_files", [])}]
    if not found:
        raise NotFound(f"no Examples{_in(pipeline)} read {wanted}")
    return found


def impact(records: Records, starts: list[Artifact]) -> Impact:
    made: dict[int, Artifact] = {}
    comparisons: list[tuple[Execution, Artifact]] = []
    for start in starts:
        tree = downstream(records, start.id, cross_comparisons=False)
        stack = [tree]
        while stack:
            step = stack.pop()
            for hop in step.executions:
                if hop.comparison:
                    comparisons.append((hop.execution, step.artifact))
                for child in hop.artifacts:
                    if not child.seen:
                        made.setdefault(child.artifact.id, child.artifact)
                        stack.append(child)
    start_ids = {s.id for s in starts}
    found = sorted((a for i, a in made.items() if i not in start_ids), key=lambda a: a.id)
    return Impact(starts, found, comparisons, serving_now(found))


def serving_now(artifacts: list[Artifact]) -> dict[str, Any]:
    """What each serving directory these PushedModels went to serves now: the highest version
    directory, and the model its ``versions.json`` record holds."""
    from pipelines.serving import ServingTarget, read_manifest, versions

    found: dict[str, Any] = {}
    for pushed in (a for a in artifacts if a.type == "PushedModel"):
        name, root = pushed.properties.get("model_name"), pushed.properties.get("destination")
        if not name or not root or name in found:
            continue
        target = ServingTarget(Path(str(root)), str(name))
        served = versions(target)
        if served:
            record = read_manifest(target).get(str(served[-1]), {})
            found[str(name)] = {"version": served[-1], "model_id": record.get("model_id"),
                                "destination": str(root)}
    return found


def _pushed_serving(pushed: Artifact, serving: dict[str, Any]) -> bool:
    now = serving.get(str(pushed.properties.get("model_name"))) or {}
    return bool(now) and now.get("version") == pushed.properties.get("version")


def _of_type(records: Records, type_name: str, pipeline: str | None) -> list[Artifact]:
    from ml_metadata.metadata_store import metadata_store

    query = f"type = '{type_name}'"
    if pipeline is not None:
        query += f" AND contexts_p.type = 'pipeline' AND contexts_p.name = '{pipeline}'"
    options = metadata_store.ListOptions(filter_query=query)
    return [records.artifact(p) for p in records.mlmd.get_artifacts(list_options=options)]


def _one(records: Records, artifact_id: int) -> Artifact:
    found = records.load_artifacts([artifact_id])
    if not found:
        raise NotFound(f"ML Metadata has no artifact {artifact_id}")
    return found[0]


def _in(pipeline: str | None) -> str:
    return f" in pipeline {pipeline}" if pipeline else ""


def _artifact_json(artifact: Artifact) -> dict[str, Any]:
    return artifact.to_json()

