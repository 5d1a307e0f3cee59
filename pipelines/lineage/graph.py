"""ML Metadata read in bulk, as plain records: a query makes a handful of calls, not one per node.

``Records`` caches what it has read, so a walk that meets an execution twice reads it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.lineage.connect import Store

INPUT, OUTPUT = "INPUT", "OUTPUT"


@dataclass(frozen=True)
class Execution:
    id: int
    type: str  # lockgate.<Component>
    node_id: str
    run_id: str
    state: str  # MLMD's: COMPLETE, CACHED, FAILED, RUNNING, ...
    outcome: str  # ours: complete, cached, skipped, halted, failed
    message: str
    component_version: str
    created_ms: int
    updated_ms: int
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return (self.updated_ms - self.created_ms) / 1000

    @property
    def component(self) -> str:
        return self.type.removeprefix("lockgate.")

    def json_property(self, name: str, default: Any = None) -> Any:
        return _json(self.custom.get(name), default)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "component": self.component, "node_id": self.node_id,
            "run_id": self.run_id, "state": self.state, "outcome": self.outcome,
            "message": self.message, "component_version": self.component_version,
            "started": iso(self.created_ms), "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Artifact:
    id: int
    type: str
    uri: str
    state: str
    created_ms: int
    properties: dict[str, Any] = field(default_factory=dict)

    def json_property(self, name: str, default: Any = None) -> Any:
        return _json(self.properties.get(name), default)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "uri": self.uri, "state": self.state,
                "properties": self.properties}


@dataclass(frozen=True)
class Event:
    artifact_id: int
    execution_id: int
    type: str  # INPUT | OUTPUT
    ports: tuple[str, ...]


class Records:
    """Executions, artifacts and events of one store, read in batches and kept."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mlmd = store.mlmd
        pb = store.pb
        self._state_names = {v: k for k, v in pb.Execution.State.items()}
        self._artifact_states = {v: k for k, v in pb.Artifact.State.items()}
        self._event_types = {pb.Event.INPUT: INPUT, pb.Event.OUTPUT: OUTPUT}
        self._execution_types: dict[int, str] = {}
        self._artifact_types: dict[int, str] = {}
        self.executions: dict[int, Execution] = {}
        self.artifacts: dict[int, Artifact] = {}
        self._events_of_execution: dict[int, list[Event]] = {}
        self._events_of_artifact: dict[int, list[Event]] = {}

    # ----- conversion
    def execution(self, proto: Any) -> Execution:
        if proto.id not in self.executions:
            if proto.type_id not in self._execution_types:
                self._execution_types.update(
                    {t.id: t.name for t in self.mlmd.get_execution_types()})
            props = proto.properties
            self.executions[proto.id] = Execution(
                id=proto.id, type=self._execution_types.get(proto.type_id, "?"),
                node_id=props["node_id"].string_value if "node_id" in props else "",
                run_id=props["run_id"].string_value if "run_id" in props else "",
                state=self._state_names.get(proto.last_known_state, "UNKNOWN"),
                outcome=props["outcome"].string_value if "outcome" in props else "",
                message=props["message"].string_value if "message" in props else "",
                component_version=(props["component_version"].string_value
                                   if "component_version" in props else ""),
                created_ms=proto.create_time_since_epoch,
                updated_ms=proto.last_update_time_since_epoch,
                custom={k: _value(v) for k, v in proto.custom_properties.items()},
            )
        return self.executions[proto.id]

    def artifact(self, proto: Any) -> Artifact:
        if proto.id not in self.artifacts:
            if proto.type_id not in self._artifact_types:
                self._artifact_types.update(
                    {t.id: t.name for t in self.mlmd.get_artifact_types()})
            properties = {k: _value(v) for k, v in proto.custom_properties.items()}
            properties.update({k: _value(v) for k, v in proto.properties.items()})
            self.artifacts[proto.id] = Artifact(
                id=proto.id, type=self._artifact_types.get(proto.type_id, "?"), uri=proto.uri,
                state=self._artifact_states.get(proto.state, "UNKNOWN"),
                created_ms=proto.create_time_since_epoch, properties=properties,
            )
        return self.artifacts[proto.id]

    # ----- batched reads
    def load_executions(self, ids: Iterable[int]) -> list[Execution]:
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self.executions]
        if missing:
            for proto in self.mlmd.get_executions_by_id(missing):
                self.execution(proto)
        return [self.executions[i] for i in wanted if i in self.executions]

    def load_artifacts(self, ids: Iterable[int]) -> list[Artifact]:
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self.artifacts]
        if missing:
            for proto in self.mlmd.get_artifacts_by_id(missing):
                self.artifact(proto)
        return [self.artifacts[i] for i in wanted if i in self.artifacts]

    def events_of_executions(self, ids: Iterable[int]) -> dict[int, list[Event]]:
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._events_of_execution]
        if missing:
            for i in missing:
                self._events_of_execution[i] = []
            for proto in self.mlmd.get_events_by_execution_ids(missing):
                self._events_of_execution[proto.execution_id].append(self._event(proto))
        return {i: self._events_of_execution[i] for i in wanted}

    def events_of_artifacts(self, ids: Iterable[int]) -> dict[int, list[Event]]:
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._events_of_artifact]
        if missing:
            for i in missing:
                self._events_of_artifact[i] = []
            for proto in self.mlmd.get_events_by_artifact_ids(missing):
                self._events_of_artifact[proto.artifact_id].append(self._event(proto))
        return {i: self._events_of_artifact[i] for i in wanted}

    def _event(self, proto: Any) -> Event:
        steps = proto.path.steps
        ports = tuple(steps[i].key for i in range(0, len(steps), 2) if steps[i].key)
        return Event(proto.artifact_id, proto.execution_id,
                     self._event_types.get(proto.type, "OTHER"), ports)

    def outputs(self, execution_id: int) -> dict[str, list[Artifact]]:
        return self._ported(execution_id, OUTPUT)

    def inputs(self, execution_id: int) -> dict[str, list[Artifact]]:
        return self._ported(execution_id, INPUT)

    def _ported(self, execution_id: int, kind: str) -> dict[str, list[Artifact]]:
        events = [e for e in self.events_of_executions([execution_id])[execution_id]
                  if e.type == kind]
        by_id = {a.id: a for a in self.load_artifacts(e.artifact_id for e in events)}
        ports: dict[str, list[Artifact]] = {}
        for event in events:
            for port in event.ports or ("",):
                if event.artifact_id in by_id:
                    ports.setdefault(port, []).append(by_id[event.artifact_id])
        return ports

    def producer(self, artifact_id: int) -> Execution | None:
        """The execution that really wrote the artifact: its first OUTPUT event's, not a
        cache hit's that reused it."""
        events = [e for e in self.events_of_artifacts([artifact_id])[artifact_id]
                  if e.type == OUTPUT]
        found = self.load_executions(sorted(e.execution_id for e in events))
        return found[0] if found else None

    def executions_of_type(self, type_name: str) -> list[Execution]:
        from ml_metadata.metadata_store import metadata_store

        options = metadata_store.ListOptions(filter_query=f"type = '{type_name}'")
        return [self.execution(p) for p in self.mlmd.get_executions(list_options=options)]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _json(raw: Any, default: Any) -> Any:
    if not isinstance(raw, str):
        return default if raw is None else raw
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
