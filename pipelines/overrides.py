"""Audited overrides of a gate, in ML Metadata: what they are, and how resolution honours them.

An override is a person pushing a pipeline through one of its gates on purpose: blessing a
model the Evaluator refused (``lockgate bless``), accepting the anomalies that halted a run
(``lockgate accept-anomalies``), or choosing the Evaluator's baseline (``lockgate baseline``,
and ``lockgate rollback``). None of them can be written in a config: each is a command, and
each is recorded as one ``lockgate.Override`` execution with who (``by``), when (``at``), why
(``reason``) and what (``kind``), attributed to the pipeline and to a ``pipeline_run`` of its
own, with an INPUT event on the artifact it overrode and an OUTPUT event on the artifact it
made. That artifact is what makes the override take effect:

- ``ModelBlessing`` (bless): a positive blessing with ``override=1``. ``latest_blessed_model``
  counts it, and a node reading a negative blessing of that model from upstream reads the
  override instead (``overridden_blessings``), so a resumed run's Pusher pushes it.
- ``AnomaliesAcceptance`` (accept-anomalies): the findings accepted for one validator node of
  one run; the ``run_override`` resolver hands it to that node when the run is resumed.
- ``Baseline`` (baseline set/reset): the newest one, if newer than every positive blessing,
  picks the Evaluator's baseline (``baseline_override``).

This module only reads and writes MLMD; the commands are in ``pipelines/override_commands.py``.
"""

from __future__ import annotations

import getpass
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.component import Artifact, ComponentSpec, Params
from pipelines.fingerprint import fingerprint_dir
from pipelines.metadata.store import Contexts, LineageStore

OVERRIDE = ComponentSpec(
    name="Override",
    version="1",
    params=Params,
    inputs={},
    outputs={},
    executor="pipelines.overrides:record_override",  # never launched; names the execution type
    description="A person's audited override of a gate.",
)
# Kinds of override, the execution's ``kind`` property.
BLESS = "bless"
ACCEPT_ANOMALIES = "accept-anomalies"
BASELINE_SET = "baseline-set"
BASELINE_RESET = "baseline-reset"
# The ModelBlessing layout (components/evaluator/markers.py; the framework cannot import it).
BLESSED_FILE = "BLESSED"
BLESSING_FILE = "blessing.json"
ACCEPTANCE_FILE = "acceptance.json"
BASELINE_FILE = "baseline.json"
PROPOSED_SCHEMA_FILE = "proposed_schema.pbtxt"
PROPOSED_DIFF_FILE = "proposed_schema.diff"


class Refused(Exception):
    """An override (or a rollback) cannot be recorded; the message says why and what to do."""


def check_reason(reason: str | None) -> str:
    """The stripped reason; refused when there is none, so no override is ever anonymous."""
    if not reason or not reason.strip():
        raise Refused("--reason is required: say why this gate is overridden; the reason is "
                      "recorded in ML Metadata with who did it and when")
    return reason.strip()


@dataclass(frozen=True)
class OverrideRecord:
    """One override as ``overrides_of`` lists it."""

    execution_id: int
    kind: str
    by: str
    at: str  # ISO 8601, UTC
    reason: str
    run_id: str  # the override's own pipeline_run
    message: str
    inputs: dict[str, list[int]]  # port -> artifact ids it overrode or read
    outputs: dict[str, list[int]]  # port -> artifact ids it made


def who(by: str | None) -> str:
    """``--by NAME``, or the OS user running the command."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return "unknown"


def record_override(
    store: LineageStore,
    pipeline: str,
    root: Path,
    *,
    kind: str,
    by: str,
    reason: str,
    inputs: Mapping[str, list[Artifact]],
    outputs: Mapping[str, Artifact],
    write: Any = None,
    message: str = "",
    properties: Mapping[str, Any] | None = None,
) -> tuple[int, dict[str, Artifact]]:
    """Record one ``lockgate.Override`` execution and publish its outputs; returns its id.

    Each output gets ``<root>/overrides/<kind>/<execution_id>/`` as its directory; ``write``
    (``(execution_id, {port: artifact})``) fills them before they are registered, so every
    output names its execution and no artifact is LIVE without its files.
    """
    at = datetime.now(UTC).isoformat(timespec="seconds")
    run_id = f"override-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
    contexts = store.contexts(pipeline, run_id, kind)
    execution_id = store.start_execution(OVERRIDE, kind, run_id, contexts, inputs)
    audit = {"kind": kind, "by": by, "reason": reason, "at": at}
    for port, artifact in outputs.items():
        artifact.uri = str(root / "overrides" / kind / str(execution_id) / port)
        Path(artifact.uri).mkdir(parents=True, exist_ok=True)
        artifact.properties.update({"override": 1, "override_execution": execution_id,
                                    "by": by, "reason": reason, "at": at,
                                    "producer_node": kind})
    try:
        if write is not None:
            write(execution_id, outputs)
        for artifact in outputs.values():
            artifact.properties["fingerprint"] = fingerprint_dir(Path(artifact.uri))
    except BaseException as exc:
        store.finish_execution(execution_id, contexts, state="FAILED", outcome="failed",
                               message=f"{type(exc).__name__}: {exc}", properties=audit)
        raise
    store.finish_execution(
        execution_id, contexts, state="COMPLETE", outcome="complete",
        message=message or f"{kind} by {by}: {reason}",
        outputs={port: [a] for port, a in outputs.items()},
        properties={**audit, **(properties or {})},
    )
    return execution_id, dict(outputs)


def overrides_of(store: LineageStore, pipeline: str) -> list[OverrideRecord]:
    """Every override of ``pipeline``, oldest first, with its audit fields and its events."""
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline)
    if context is None:
        return []
    from ml_metadata.metadata_store import metadata_store

    # One filtered query: a pipeline with a long history has few overrides.
    options = metadata_store.ListOptions(filter_query=f"type = 'lockgate.{OVERRIDE.name}'")
    records = []
    for execution in store.mlmd.get_executions_by_context(context.id, list_options=options):
        custom, props = execution.custom_properties, execution.properties
        records.append(OverrideRecord(
            execution_id=execution.id,
            kind=custom["kind"].string_value,
            by=custom["by"].string_value,
            at=custom["at"].string_value,
            reason=custom["reason"].string_value,
            run_id=props["run_id"].string_value,
            message=props["message"].string_value,
            inputs=_ids(store.inputs_of(execution.id)),
            outputs=_ids(store.outputs_of(execution.id)),
        ))
    return sorted(records, key=lambda r: r.execution_id)


def _ids(ports: dict[str, list[Artifact]]) -> dict[str, list[int]]:
    return {port: [a.id or 0 for a in artifacts] for port, artifacts in ports.items()}


# ----- resolution: how the framework honours an override


def baseline_override(
    store: LineageStore, pipeline_context: Any, newer_than: int
) -> list[Artifact] | None:
    """The Model the newest ``Baseline`` override names, if it is newer (by MLMD id, which
    only grows) than artifact ``newer_than``, the newest positive blessing: ``[model]``.

    None when no such override applies, so the newest blessing decides: after a reset, or
    once an Evaluator (or ``lockgate bless``) has blessed a model since the override.
    """
    baselines = store.artifacts_in(pipeline_context, "Baseline")
    if not baselines or (baselines[-1].id or 0) < newer_than:
        return None
    model_id = baselines[-1].properties.get("model_id")
    if not model_id:  # a reset
        return None
    models = store.artifacts([int(model_id)])
    for model in models:
        annotate_baseline(model, "baseline set", baselines[-1])
    return models or None


# In memory only (never written back to MLMD): why a resolved baseline Model is the baseline,
# for the Evaluator's message.
BASELINE_NOTE = "baseline_note"


def annotate_baseline(model: Artifact, what: str, override: Artifact) -> None:
    """Note on ``model`` that it is the baseline because of ``override``, and whose it was."""
    props = override.properties
    model.properties[BASELINE_NOTE] = (
        f"{what} by {props.get('by')}: {props.get('reason')} (override execution "
        f"{props.get('override_execution')})"
    )


def overridden_blessings(
    store: LineageStore, contexts: Contexts, blessings: list[Artifact]
) -> list[Artifact]:
    """``blessings`` with each negative one replaced by the newest override blessing of the
    same model, so a resumed run's Pusher (and InfraValidator) reads ``lockgate bless``'s
    blessing rather than the Evaluator's refusal, even when the Evaluator ran again."""
    negative = [b for b in blessings if b.properties.get("blessed") != 1]
    if not negative:
        return blessings
    overrides = {
        int(b.properties["model_id"]): b
        for b in store.artifacts_in(contexts.pipeline, "ModelBlessing")
        if b.properties.get("override") == 1 and b.properties.get("blessed") == 1
        and b.properties.get("model_id")
    }  # oldest first, so the newest per model wins
    return [
        overrides.get(int(b.properties.get("model_id") or 0), b)
        if b.properties.get("blessed") != 1 else b
        for b in blessings
    ]


def run_override(
    store: LineageStore, contexts: Contexts, node_id: str, run_id: str, type_name: str
) -> list[Artifact]:
    """The newest override artifact of ``type_name`` recorded for ``node_id`` of ``run_id``
    (an ``AnomaliesAcceptance``): only that run's resume sees it, never a later run."""
    found = [
        a for a in store.artifacts_in(contexts.pipeline, type_name)
        if a.properties.get("override") == 1
        and a.properties.get("for_run") == run_id and a.properties.get("for_node") == node_id
    ]
    return found[-1:]


def write_json(path: Path, record: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
