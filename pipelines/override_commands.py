"""``lockgate bless``, ``lockgate accept-anomalies`` and ``lockgate baseline``: audited overrides.

Each refuses to act without ``--reason`` (exit 2), checks that what it overrides belongs to the
pipeline, and records a ``lockgate.Override`` execution (``pipelines/overrides.py``). None of
them changes a config or the curated schema: ``accept-anomalies`` writes the schema change it
implies as a proposed diff for review.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from pipelines.component import Artifact
from pipelines.graph import Pipeline, build_pipeline
from pipelines.loading import load_config
from pipelines.metadata.store import Contexts, ExecutionRecord, LineageStore
from pipelines.overrides import (
    ACCEPT_ANOMALIES,
    ACCEPTANCE_FILE,
    BASELINE_FILE,
    BASELINE_RESET,
    BASELINE_SET,
    BLESS,
    BLESSED_FILE,
    BLESSING_FILE,
    PROPOSED_DIFF_FILE,
    PROPOSED_SCHEMA_FILE,
    Refused,
    check_reason,
    record_override,
    who,
    write_json,
)

EXIT_OK = 0
EXIT_REFUSED = 2
# What the ExampleValidator writes beside its report: every finding, machine-readable.
FINDINGS_FILE = "findings.json"


def _refuse(command: str, refusal: Exception) -> int:
    print(f"lockgate {command}: refused: {refusal}", file=sys.stderr)
    return EXIT_REFUSED


def _open(config_path: Path) -> tuple[Pipeline, LineageStore]:
    pipeline = build_pipeline(load_config(config_path))
    return pipeline, LineageStore(pipeline.config.metadata)


def _model_of(store: LineageStore, pipeline: str, model_id: int) -> Artifact:
    """The LIVE Model ``model_id`` if ML Metadata attributes it to ``pipeline``."""
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline)
    found = store.artifacts([model_id])
    if context is None or not found or found[0].type != "Model":
        raise Refused(f"artifact {model_id} is not a Model in ML Metadata; pass the id of a "
                      f"Model that pipeline '{pipeline}' trained")
    attributed = {a.id for a in store.mlmd.get_artifacts_by_context(context.id)}
    if model_id not in attributed:
        raise Refused(f"Model {model_id} was not trained by pipeline '{pipeline}'")
    return found[0]


# ----- lockgate bless


def bless(config_path: Path, model_id: int, reason: str | None, by: str | None = None) -> int:
    """Record a positive override ModelBlessing of ``model_id``; exit code."""
    try:
        reason = check_reason(reason)
        pipeline, store = _open(config_path)
        model = _model_of(store, pipeline.name, model_id)
    except Refused as refusal:
        return _refuse("bless", refusal)
    context = store.context("pipeline", pipeline.name)
    blessings = [b for b in store.artifacts_in(context, "ModelBlessing")
                 if int(b.properties.get("model_id") or 0) == model_id]
    if blessings and blessings[-1].properties.get("blessed") == 1:
        print(f"{pipeline.name}: model {model_id} is already blessed (blessing "
              f"{blessings[-1].id}); nothing to override")
        return EXIT_OK
    person = who(by)
    inputs = {"model": [model]}
    if blessings:
        inputs["overridden"] = [blessings[-1]]
    output = Artifact("ModelBlessing", "", properties={
        "blessed": 1, "model_id": model_id,
        "overrides_blessing": blessings[-1].id if blessings else None,
    })

    def write(execution_id: int, outputs: dict[str, Artifact]) -> None:
        directory = Path(outputs["blessing"].uri)
        (directory / BLESSED_FILE).touch()
        write_json(directory / BLESSING_FILE, {
            "blessed": True, "override": True, "model_id": model_id, "by": person,
            "reason": reason, "override_execution": execution_id, "failures": [],
            "overrides_blessing": blessings[-1].id if blessings else None,
        })

    execution_id, outputs = record_override(
        store, pipeline.name, pipeline.config.root, kind=BLESS, by=person, reason=reason,
        inputs=inputs, outputs={"blessing": output}, write=write,
        message=f"model {model_id} blessed by {person} despite the Evaluator: {reason}",
    )
    print(f"{pipeline.name}: model {model_id} blessed by {person} (override execution "
          f"{execution_id}, blessing {outputs['blessing'].id}). It is the next Evaluator's "
          "baseline; resume the run that trained it (lockgate run CONFIG --resume RUN_ID) "
          "to push it")
    return EXIT_OK


# ----- lockgate baseline


def baseline(
    config_path: Path, action: str, model_id: int | None, reason: str | None,
    by: str | None = None,
) -> int:
    """``set MODEL_ID`` or ``reset`` the next Evaluator's baseline; exit code."""
    try:
        reason = check_reason(reason)
        pipeline, store = _open(config_path)
        if action == "set":
            if model_id is None:
                raise Refused("baseline set needs the MODEL_ID of the new baseline")
            model = _model_of(store, pipeline.name, model_id)
    except Refused as refusal:
        return _refuse("baseline", refusal)
    person = who(by)
    if action == "set":
        execution_id = set_baseline(store, pipeline, model, person, reason)
        print(f"{pipeline.name}: the next Evaluator compares with model {model_id} (override "
              f"execution {execution_id}, by {person})")
    else:
        execution_id = reset_baseline(store, pipeline, person, reason)
        print(f"{pipeline.name}: the next Evaluator compares with the latest blessed model "
              f"again (override execution {execution_id}, by {person})")
    return EXIT_OK


def _current_baseline(store: LineageStore, pipeline: Pipeline) -> dict[str, list[Artifact]]:
    from pipelines.resolve import latest_blessed_model

    context = store.context("pipeline", pipeline.name)
    contexts = Contexts(context, context, context)  # resolution reads the pipeline's only
    current = latest_blessed_model(store, contexts.pipeline)
    baselines = store.artifacts_in(contexts.pipeline, "Baseline")
    found = {"previous_baseline": current} if current else {}
    if baselines:
        found["overridden"] = baselines[-1:]
    return found


def set_baseline(
    store: LineageStore, pipeline: Pipeline, model: Artifact, by: str, reason: str
) -> int:
    """Record a Baseline override naming ``model``; the execution id. Rollback uses it too."""
    inputs = {**_current_baseline(store, pipeline), "model": [model]}
    output = Artifact("Baseline", "", properties={"model_id": model.id})
    execution_id, _ = record_override(
        store, pipeline.name, pipeline.config.root, kind=BASELINE_SET, by=by, reason=reason,
        inputs=inputs, outputs={"baseline": output}, write=_write_baseline,
        message=f"baseline set to model {model.id} by {by}: {reason}",
    )
    return execution_id


def reset_baseline(store: LineageStore, pipeline: Pipeline, by: str, reason: str) -> int:
    """Record a Baseline override naming no model: the latest blessed model decides again."""
    output = Artifact("Baseline", "", properties={"reset": 1})
    execution_id, _ = record_override(
        store, pipeline.name, pipeline.config.root, kind=BASELINE_RESET, by=by, reason=reason,
        inputs=_current_baseline(store, pipeline), outputs={"baseline": output},
        write=_write_baseline, message=f"baseline reset by {by}: {reason}",
    )
    return execution_id


def _write_baseline(execution_id: int, outputs: dict[str, Artifact]) -> None:
    artifact = outputs["baseline"]
    write_json(Path(artifact.uri) / BASELINE_FILE, {**artifact.properties,
                                                    "override_execution": execution_id})


# ----- lockgate accept-anomalies


def accept_anomalies(
    config_path: Path, run_id: str, reason: str | None, by: str | None = None
) -> int:
    """Accept the anomalies that halted ``run_id``; propose the schema change; exit code."""
    try:
        reason = check_reason(reason)
        pipeline, store = _open(config_path)
        halted = _halted_validation(store, pipeline, run_id)
        anomalies = store.outputs_of(halted.id).get("anomalies", [])
        if not anomalies:
            raise Refused(f"the halted execution {halted.id} left no ExampleAnomalies")
        [report] = anomalies
        findings_path = Path(report.uri) / FINDINGS_FILE
        if not findings_path.is_file():
            raise Refused(f"{report.uri} has no {FINDINGS_FILE}; only an ExampleValidator's "
                          "anomalies can be accepted")
    except Refused as refusal:
        return _refuse("accept-anomalies", refusal)
    import json

    findings = json.loads(findings_path.read_text())
    read = store.inputs_of(halted.id)
    person = who(by)
    output = Artifact("AnomaliesAcceptance", "", properties={
        "for_run": run_id, "for_node": halted.node_id, "anomalies_id": report.id,
        "accepted_count": len(findings),
    })
    diff_path: list[Path] = []

    def write(execution_id: int, outputs: dict[str, Artifact]) -> None:
        directory = Path(outputs["acceptance"].uri)
        diff_path.append(_propose_schema(pipeline, read, directory))
        write_json(directory / ACCEPTANCE_FILE, {
            "by": person, "reason": reason, "override_execution": execution_id,
            "run_id": run_id, "node_id": halted.node_id, "anomalies_id": report.id,
            "accepted": findings, "proposed_schema_diff": str(diff_path[0]),
        })

    execution_id, _ = record_override(
        store, pipeline.name, pipeline.config.root, kind=ACCEPT_ANOMALIES, by=person,
        reason=reason, inputs={"anomalies": [report]},
        outputs={"acceptance": output}, write=write,
        message=f"{len(findings)} anomalies of run {run_id} accepted by {person}: {reason}",
        properties={"for_run": run_id, "for_node": halted.node_id},
    )
    print(f"{pipeline.name}: {len(findings)} anomalies of {halted.node_id} in run {run_id} "
          f"accepted by {person} (override execution {execution_id})")
    print(f"proposed schema change, for review (not applied): {diff_path[0]}")
    print(f"continue the run: lockgate run {config_path} --resume {run_id}")
    return EXIT_OK


def _halted_validation(store: LineageStore, pipeline: Pipeline, run_id: str) -> ExecutionRecord:
    if not store.run_exists(pipeline.name, run_id):
        raise Refused(f"pipeline '{pipeline.name}' has no run '{run_id}'")
    executions = store.run_executions(pipeline.name, run_id)
    done = {e.node_id for e in executions if e.state in ("COMPLETE", "CACHED")}
    halted = [e for e in executions if e.outcome == "halted" and e.node_id not in done]
    if not halted:
        raise Refused(f"run '{run_id}' of pipeline '{pipeline.name}' is not halted at a gate; "
                      "there are no anomalies to accept")
    return halted[-1]


def _propose_schema(
    pipeline: Pipeline, read: dict[str, list[Artifact]], directory: Path
) -> Path:
    """Write TFDV's schema updated from the halted statistics, and its unified diff against
    the curated schema, into ``directory``; returns the diff's path. The curated file is
    never touched: a schema change is reviewed like code."""
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    from pipelines import layout

    [schema_artifact] = read["schema"]
    [statistics] = read["statistics"]
    curated = _curated_schema_path(pipeline, schema_artifact)
    schema = text_format.Parse(curated.read_text(), schema_pb2.Schema())
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(schema)
    for split in layout.split_names(statistics):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        stats.ParseFromString((layout.split_dir(statistics, split) / layout.STATS_FILE)
                              .read_bytes())
        proposed = tfdv.update_schema(proposed, stats)
    before = text_format.MessageToString(schema).splitlines(keepends=True)
    after = text_format.MessageToString(proposed).splitlines(keepends=True)
    (directory / PROPOSED_SCHEMA_FILE).write_text("".join(after))
    diff = "".join(difflib.unified_diff(
        before, after, fromfile=f"{curated} (curated, comments dropped)",
        tofile=f"{curated} (proposed)",
    ))
    path = directory / PROPOSED_DIFF_FILE
    path.write_text(diff or "# the statistics need no schema change\n")
    return path


def _curated_schema_path(pipeline: Pipeline, schema: Artifact) -> Path:
    """The curated file the Schema artifact came from (its producer's ``schema_file``), else
    the artifact's own copy."""
    from pipelines import layout

    producer = pipeline.nodes.get(str(schema.properties.get("producer_node", "")))
    schema_file = getattr(producer.entry.params, "schema_file", None) if producer else None
    if schema_file:
        return pipeline.config.resolve_path(schema_file)
    return Path(schema.uri) / layout.SCHEMA_FILE
