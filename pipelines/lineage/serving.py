"""``lockgate lineage serving``: what made the model that is serving.

The serving directory's ``versions.json`` says which Model (and which blessing) a version
holds; ML Metadata says the rest, by walking upstream from that Model: the data spans with
their files, fingerprints and row counts, the schema, every execution with its component
version, the code files it hashed and its config snapshot. Beside that walk: the anomalies
the data had (validators are gates, not producers, so they are not upstream), the blessing
with its metrics and the baseline it beat, and any override of a gate on the way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pipelines.lineage.blessing import read_verdict
from pipelines.lineage.graph import INPUT, Artifact, Execution, Records
from pipelines.lineage.runs import anomalies_summary
from pipelines.lineage.snapshot import HASH, PATH
from pipelines.lineage.target import NotFound
from pipelines.lineage.walk import HEAD_START_PORTS, Step, _of_type, downstream, upstream
from pipelines.serving import ServingTarget, read_manifest, versions

OVERRIDE_TYPE = "lockgate.Override"


def serving_lineage(records: Records, pipeline: str, model_name: str | None = None,
                    version: int | None = None) -> dict[str, Any]:
    pushes = [p for p in _of_type(records, "PushedModel", pipeline)
              if model_name is None or p.properties.get("model_name") == model_name]
    if not pushes:
        raise NotFound(f"pipeline {pipeline} has pushed no model"
                       + (f" named {model_name}" if model_name else "") + " yet")
    latest = max(pushes, key=lambda p: p.id)
    name = str(latest.properties.get("model_name"))
    target = ServingTarget(Path(str(latest.properties.get("destination"))), name)
    served = versions(target)
    manifest = read_manifest(target)
    chosen = version if version is not None else (served[-1] if served else None)
    record = manifest.get(str(chosen)) if chosen is not None else None
    if record is None or chosen not in served:
        raise NotFound(f"{target.model_dir} has no version {chosen}; it serves versions "
                       f"{', '.join(map(str, served)) or 'none'}")
    model_id = int(record["model_id"])
    tree = upstream(records, model_id)
    executions, artifacts = _collect(tree)
    blessing = _blessing(records, record, model_id, pipeline)
    pushed = [p for p in pushes if p.properties.get("version") == chosen]
    touched = {a.id for a in artifacts} | {model_id} | ({blessing.id} if blessing else set())
    anomalies = _anomalies(records, [a for a in artifacts
                                     if a.type == "Examples" and "input_files" in a.properties])
    touched |= {a.id for a in anomalies}
    return {
        "pipeline": pipeline,
        "serving": {"model_name": name, "version": chosen, "serving_now": chosen == served[-1],
                    "versions": served, "model_dir": str(target.model_dir), "record": record},
        "model": tree.artifact.to_json(),
        "data": [_examples(a) for a in artifacts  # ExampleGen's, not Transform's
                 if a.type == "Examples" and "input_files" in a.properties],
        "schema": [_schema(a) for a in artifacts if a.type == "Schema"],
        "warm_started_from": [a.to_json() for a in _head_starts(tree)],
        "executions": [_execution(e) for e in executions],
        "code": _code(executions),
        "config": _config(records, executions),
        "anomalies": [anomalies_summary(a) for a in anomalies],
        "evaluation": _evaluation(records, blessing),
        "pushed": [{**p.to_json(), "by": _producer_json(records, p)} for p in pushed],
        "overrides": _overrides(records, touched),
        "artifacts": [a.to_json() for a in artifacts],
    }


def _head_starts(tree: Step) -> list[Artifact]:
    """The models the served one started from (warm start), which the walk does not enter."""
    return [child.artifact for hop in tree.executions for child in hop.artifacts
            if child.port in HEAD_START_PORTS]


def _collect(tree: Step) -> tuple[list[Execution], list[Artifact]]:
    executions: dict[int, Execution] = {}
    artifacts: dict[int, Artifact] = {}
    stack = [tree]
    while stack:
        step = stack.pop()
        artifacts.setdefault(step.artifact.id, step.artifact)
        for hop in step.executions:
            executions.setdefault(hop.execution.id, hop.execution)
            stack.extend(s for s in hop.artifacts if not s.seen)
    return (sorted(executions.values(), key=lambda e: e.id),
            sorted(artifacts.values(), key=lambda a: a.id))


def _examples(artifact: Artifact) -> dict[str, Any]:
    fingerprints = artifact.json_property("input_file_fingerprints", {}) or {}
    files = artifact.json_property("input_files", []) or list(fingerprints)
    return {
        "artifact_id": artifact.id, "uri": artifact.uri, "span": artifact.properties.get("span"),
        "version": artifact.properties.get("version"),
        "files": [{"path": f, "fingerprint": fingerprints.get(f)} for f in files],
        "input_fingerprint": artifact.properties.get("input_fingerprint"),
        "split_rows": artifact.json_property("split_rows", {}),
        "bad_rows": artifact.properties.get("bad_rows"),
        "fingerprint": artifact.properties.get("fingerprint"),
    }


def _schema(artifact: Artifact) -> dict[str, Any]:
    return {"artifact_id": artifact.id, "path": str(Path(artifact.uri) / "schema.pbtxt"),
            "fingerprint": artifact.properties.get("fingerprint"),
            "source": artifact.properties.get("source")}


def _execution(execution: Execution) -> dict[str, Any]:
    return {**execution.to_json(), "code_files": execution.json_property("code_files", {}),
            "config_hash": execution.custom.get(HASH)}


def _code(executions: list[Execution]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for execution in executions:
        for path, fingerprint in (execution.json_property("code_files", {}) or {}).items():
            found.setdefault(path, {"path": path, "fingerprint": fingerprint, "nodes": []})
            found[path]["nodes"].append(execution.node_id)
    return list(found.values())


def _config(records: Records, executions: list[Execution]) -> dict[str, Any]:
    """The snapshot the model's Trainer (else its newest upstream execution) ran with, and
    whether the file still holds those bytes."""
    made = [e for e in executions if e.component == "Trainer"] or executions[::-1]
    for execution in made:
        path, digest = execution.custom.get(PATH), execution.custom.get(HASH)
        if path and digest:
            try:
                intact = hashlib.sha256(Path(str(path)).read_bytes()).hexdigest() == digest
            except OSError:
                intact = False
            return {"path": path, "hash": digest, "intact": intact,
                    "execution_id": execution.id, "run_id": execution.run_id,
                    "hashes_seen": sorted({str(e.custom.get(HASH)) for e in executions
                                           if e.custom.get(HASH)})}
    return {}


def _blessing(records: Records, record: dict[str, Any], model_id: int,
              pipeline: str) -> Artifact | None:
    if record.get("blessing_id"):
        found = records.load_artifacts([int(record["blessing_id"])])
        if found:
            return found[0]
    blessed = [b for b in _of_type(records, "ModelBlessing", pipeline)
               if b.properties.get("model_id") == model_id and b.properties.get("blessed") == 1]
    return max(blessed, key=lambda b: b.id) if blessed else None


def _evaluation(records: Records, blessing: Artifact | None) -> dict[str, Any]:
    if blessing is None:
        return {}
    producer = records.producer(blessing.id)
    outputs = records.outputs(producer.id) if producer else {}
    evaluations = outputs.get("evaluation") or []
    evaluation = evaluations[0] if evaluations else None
    verdict = read_verdict(blessing.uri, evaluation.uri if evaluation else None,
                           blessing.properties)
    return {
        "blessing_id": blessing.id,
        "evaluation_id": evaluation.id if evaluation else None,
        "execution": producer.to_json() if producer else None,
        "verdict": verdict.to_json() if verdict else None,
        "baseline_model_id": verdict.baseline_model_id if verdict else None,
        "metrics": verdict.metrics if verdict else {},
    }


def _anomalies(records: Records, examples: list[Artifact]) -> list[Artifact]:
    """What each validator found in statistics of these Examples (two hops downstream)."""
    found: dict[int, Artifact] = {}
    for start in examples:
        stack = [downstream(records, start.id, depth=2, cross_comparisons=False)]
        while stack:
            step = stack.pop()
            for hop in step.executions:
                for child in hop.artifacts:
                    if child.artifact.type == "ExampleAnomalies" and "statistics" in hop.port:
                        found[child.artifact.id] = child.artifact
                    stack.append(child)
    return sorted(found.values(), key=lambda a: a.id)


def _overrides(records: Records, touched: set[int]) -> list[dict[str, Any]]:
    overrides = records.executions_of_type(OVERRIDE_TYPE)
    events = records.events_of_executions(o.id for o in overrides)
    found = []
    for override in overrides:
        ids = {e.artifact_id for e in events[override.id]}
        if ids & touched:
            found.append({**override.to_json(),
                          **{k: override.custom.get(k) for k in ("kind", "by", "reason", "at")},
                          "artifacts": sorted(ids),
                          "inputs": sorted(e.artifact_id for e in events[override.id]
                                           if e.type == INPUT)})
    return found


def _producer_json(records: Records, artifact: Artifact) -> dict[str, Any] | None:
    producer = records.producer(artifact.id)
    return producer.to_json() if producer else None
