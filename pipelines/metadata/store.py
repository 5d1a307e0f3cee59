"""Lineage in ML Metadata: contexts, executions, artifacts and the events that link them.

Model (see DESIGN.md): three context types (``pipeline``, ``pipeline_run``, ``node``); one
execution type per component, ``lockgate.<Component>``; one artifact type per kind of artifact.
Every execution is attributed to its three contexts and has an INPUT event for each artifact
it read and an OUTPUT event for each it wrote, keyed by the port name. Output artifacts are
registered only when they are published, in the same MLMD transaction that marks the
execution COMPLETE, so a crashed or failed execution can never leave a LIVE artifact behind.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pipelines.component import Artifact, ArtifactType, ComponentSpec
from pipelines.config.models import Metadata, PostgresMetadata
from pipelines.errors import MetadataError
from pipelines.metadata import unusable_store
from pipelines.metadata.connection import connection_config, sqlite_path

if TYPE_CHECKING:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

# Declared properties of the standard artifact types. An author's own type has none: all its
# properties are custom properties, which MLMD stores just the same.
ARTIFACT_TYPES: dict[ArtifactType, dict[str, str]] = {
    "Examples": {"span": "INT", "version": "INT", "split_names": "STRING"},
    "ExampleStatistics": {"span": "INT", "split_names": "STRING"},
    "Schema": {},
    "ExampleAnomalies": {"span": "INT", "split_names": "STRING"},
    "TransformGraph": {},
    "Model": {},
    "ModelRun": {},
    "ModelEvaluation": {},
    "ModelBlessing": {"blessed": "INT"},
    "InfraBlessing": {"blessed": "INT"},
    "InferenceResult": {},
    "PushedModel": {"version": "INT"},
}
EXECUTION_PROPERTIES = {
    "node_id": "STRING",
    "run_id": "STRING",
    "component_version": "STRING",
    "cache_key": "STRING",
    "outcome": "STRING",  # complete | cached | skipped | halted | failed
    "message": "STRING",
}
CONTEXT_TYPES = ("pipeline", "pipeline_run", "node")
RUN_SPAN = "span"  # on a pipeline_run context: the span the run was pinned to
DONE_STATES = ("COMPLETE", "CACHED")

T = TypeVar("T")


@dataclass(frozen=True)
class Contexts:
    pipeline: pb.Context
    run: pb.Context
    node: pb.Context

    def all(self) -> list[pb.Context]:
        return [self.pipeline, self.run, self.node]


@dataclass(frozen=True)
class ExecutionRecord:
    """An execution as the CLI and tests need it."""

    id: int
    type: str
    node_id: str
    run_id: str
    state: str
    outcome: str
    message: str
    cache_key: str
    # From creation to the last state change: the node's wall time once it has finished.
    seconds: float = 0.0


class ExecutionBusy(MetadataError):
    """Another live process is executing the same node of the same run."""


_OPEN_ATTEMPTS = 6
_SCHEMA_RACE = re.compile(
    r"duplicate key value|already exists|database is locked|concurrent connection")


class LineageStore:
    """A thin, typed layer over ``ml_metadata.MetadataStore``."""

    def __init__(self, metadata: Metadata) -> None:
        from ml_metadata.metadata_store import metadata_store
        from ml_metadata.proto import metadata_store_pb2

        self.pb = metadata_store_pb2
        config = connection_config(metadata)
        try:
            for attempt in range(_OPEN_ATTEMPTS):
                try:
                    self.mlmd: metadata_store.MetadataStore = metadata_store.MetadataStore(config)
                    break
                except RuntimeError as exc:
                    # The first connections to an empty database all create MLMD's schema;
                    # PostgreSQL lets one win and fails the others on a duplicate type. The
                    # schema is there once the winner commits: open again.
                    if attempt + 1 == _OPEN_ATTEMPTS or not _SCHEMA_RACE.search(str(exc)):
                        raise
                    time.sleep(0.2 * (attempt + 1))
        except Exception as exc:
            if isinstance(metadata, PostgresMetadata):
                where, sqlite = f"postgresql://{metadata.host}:{metadata.port}", False
            else:
                where, sqlite = str(sqlite_path(metadata)), True
            raise MetadataError(unusable_store(where, exc, sqlite)) from exc
        self._type_ids: dict[str, int] = {}

    # ----- writes are retried: SQLite raises "database is locked" under concurrent runs.
    def _retry(self, write: Callable[[], T], attempts: int = 8) -> T:
        from ml_metadata import errors

        for attempt in range(attempts):
            try:
                return write()
            except (errors.AbortedError, errors.UnavailableError, errors.InternalError) as exc:
                # SQLite reports a held lock as "database is locked"; only that is transient.
                transient = isinstance(exc, errors.AbortedError) or "locked" in str(exc).lower()
                if not transient or attempt == attempts - 1:
                    raise
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    # ----- types
    def _type_id(self, kind: str, name: str, properties: Mapping[str, str]) -> int:
        key = f"{kind}:{name}"
        if key not in self._type_ids:
            type_class = {
                "artifact": self.pb.ArtifactType,
                "execution": self.pb.ExecutionType,
                "context": self.pb.ContextType,
            }[kind]
            proto = type_class(name=name)
            for prop, value_type in properties.items():
                proto.properties[prop] = getattr(self.pb, value_type)
            put = getattr(self.mlmd, f"put_{kind}_type")
            self._type_ids[key] = self._retry(lambda: put(proto, can_add_fields=True))
        return self._type_ids[key]

    def artifact_type_id(self, name: ArtifactType) -> int:
        return self._type_id("artifact", name, ARTIFACT_TYPES.get(name, {}))

    def execution_type_id(self, spec: ComponentSpec) -> int:
        return self._type_id("execution", f"lockgate.{spec.name}", EXECUTION_PROPERTIES)

    # ----- contexts
    def context(self, type_name: str, name: str) -> pb.Context:
        from ml_metadata import errors

        type_id = self._type_id("context", type_name, {})
        found = self.mlmd.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        context = self.pb.Context(type_id=type_id, name=name)
        try:
            [context.id] = self._retry(lambda: self.mlmd.put_contexts([context]))
        except errors.AlreadyExistsError:  # another process created it first
            return self.mlmd.get_context_by_type_and_name(type_name, name)
        return context

    def contexts(self, pipeline: str, run_id: str, node_id: str) -> Contexts:
        return Contexts(
            pipeline=self.context("pipeline", pipeline),
            run=self.context("pipeline_run", f"{pipeline}.{run_id}"),
            node=self.context("node", f"{pipeline}.{node_id}"),
        )

    # ----- executions
    def start_execution(
        self,
        spec: ComponentSpec,
        node_id: str,
        run_id: str,
        contexts: Contexts,
        inputs: Mapping[str, list[Artifact]],
        cache_key: str = "",
    ) -> int:
        """Record a RUNNING execution with an INPUT event per input artifact."""
        from pipelines.liveness import this_process

        execution = self._new_execution(spec, node_id, run_id, cache_key, "RUNNING", "running")
        _set(execution.custom_properties, owner=this_process())
        events = self._events(inputs, self.pb.Event.INPUT)
        execution_id, _, _ = self._retry(
            lambda: self.mlmd.put_execution(
                execution, events, contexts.all(), reuse_context_if_already_exist=True
            )
        )
        return int(execution_id)

    def record_cached(
        self,
        spec: ComponentSpec,
        node_id: str,
        run_id: str,
        contexts: Contexts,
        inputs: Mapping[str, list[Artifact]],
        outputs: Mapping[str, list[Artifact]],
        cache_key: str,
        source_execution: int,
    ) -> int:
        """Record a CACHED execution that read ``inputs`` and reuses ``outputs``, in one write,
        so the cache hit's lineage is as complete as a real execution's."""
        execution = self._new_execution(spec, node_id, run_id, cache_key, "CACHED", "cached")
        _set(execution.properties, message=f"reused the outputs of execution {source_execution}")
        events = self._events(inputs, self.pb.Event.INPUT)
        events += self._events(outputs, self.pb.Event.OUTPUT)
        execution_id, _, _ = self._retry(
            lambda: self.mlmd.put_execution(
                execution, events, contexts.all(), reuse_context_if_already_exist=True
            )
        )
        return int(execution_id)

    def find_cached(
        self, contexts: Contexts, spec: ComponentSpec, cache_key: str
    ) -> tuple[int, dict[str, list[Artifact]]] | None:
        """The newest COMPLETE or CACHED execution in this pipeline with ``cache_key`` whose
        every output is still LIVE, and those outputs."""
        return self._find_cached(contexts.pipeline.id, spec, cache_key)

    def has_cached(self, pipeline: str, spec: ComponentSpec, cache_key: str) -> bool:
        """Whether ``find_cached`` would hit, without creating any context."""
        context = self.mlmd.get_context_by_type_and_name("pipeline", pipeline)
        return context is not None and self._find_cached(context.id, spec, cache_key) is not None

    def _find_cached(
        self, pipeline_context: int, spec: ComponentSpec, cache_key: str
    ) -> tuple[int, dict[str, list[Artifact]]] | None:
        from ml_metadata.metadata_store import metadata_store

        options = metadata_store.ListOptions(
            filter_query=f"properties.cache_key.string_value = '{cache_key}'"
        )
        candidates = self.mlmd.get_executions_by_context(pipeline_context, options)
        done = (self.pb.Execution.COMPLETE, self.pb.Execution.CACHED)
        for execution in sorted(candidates, key=lambda e: e.id, reverse=True):
            if execution.last_known_state not in done:
                continue
            if execution.properties["outcome"].string_value not in ("complete", "cached"):
                continue
            outputs = self.outputs_of(execution.id)
            if all(outputs.get(name) for name in spec.outputs):
                return execution.id, outputs
        return None

    def _new_execution(
        self, spec: ComponentSpec, node_id: str, run_id: str, cache_key: str, state: str,
        outcome: str,
    ) -> pb.Execution:
        execution = self.pb.Execution(
            type_id=self.execution_type_id(spec),
            last_known_state=getattr(self.pb.Execution, state),
        )
        _set(execution.properties, node_id=node_id, run_id=run_id,
             component_version=spec.version, cache_key=cache_key, outcome=outcome)
        return execution

    def abandon_running(self, contexts: Contexts, node_id: str) -> list[int]:
        """Mark RUNNING executions of this node in this run FAILED: their process died.

        One whose owner still runs on this host is left alone: ``ExecutionBusy`` says who.
        """
        from pipelines.liveness import describe, owner_alive

        stale = []
        for execution in self.mlmd.get_executions_by_context(contexts.run.id):
            if (execution.last_known_state != self.pb.Execution.RUNNING
                    or execution.properties["node_id"].string_value != node_id):
                continue
            owner = execution.custom_properties["owner"].string_value
            if owner and owner_alive(owner):
                raise ExecutionBusy(
                    f"node '{node_id}' of this run is being executed right now by "
                    f"{describe(owner)} (execution {execution.id}); wait for it to finish"
                )
            stale.append(execution)
        for execution in stale:
            execution.last_known_state = self.pb.Execution.FAILED
            _set(execution.properties, outcome="failed",
                 message="abandoned: the process running it died before it finished")
        if stale:
            self._retry(lambda: self.mlmd.put_executions(stale))
        return [e.id for e in stale]

    def finish_execution(
        self,
        execution_id: int,
        contexts: Contexts,
        *,
        state: str,
        outcome: str,
        message: str = "",
        outputs: Mapping[str, list[Artifact]] | None = None,
        inputs: Mapping[str, list[Artifact]] | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> dict[str, list[Artifact]]:
        """Set the execution's final state and register its outputs as LIVE, atomically.

        ``outputs`` with an ``id`` are existing artifacts reused (a cache hit); the others are
        new. ``inputs`` adds INPUT events (used by cache hits, which skip ``start_execution``).
        """
        [execution] = self.mlmd.get_executions_by_id([execution_id])
        execution.last_known_state = getattr(self.pb.Execution, state)
        _set(execution.properties, outcome=outcome, message=_bounded(message))
        _set(execution.custom_properties, **(properties or {}))
        events = self._events(inputs or {}, self.pb.Event.INPUT)
        events += self._events(outputs or {}, self.pb.Event.OUTPUT, new_state="LIVE")
        _, artifact_ids, _ = self._retry(
            lambda: self.mlmd.put_execution(
                execution, events, contexts.all(), reuse_context_if_already_exist=True
            )
        )
        published: dict[str, list[Artifact]] = {}
        ids = iter(artifact_ids[len(events) - sum(len(a) for a in (outputs or {}).values()):])
        for name, artifacts in (outputs or {}).items():
            published[name] = []
            for artifact in artifacts:
                artifact.id = next(ids)
                published[name].append(artifact)
        return published

    def _events(
        self,
        ports: Mapping[str, list[Artifact]],
        event_type: int,
        new_state: str | None = None,
    ) -> list[tuple[pb.Artifact, pb.Event]]:
        """One event per artifact, its path a ``(port, index)`` pair of steps per port it is on.

        MLMD allows one event per (artifact, execution, type), yet one artifact can fill two
        ports: a re-evaluated model is also its own blessed baseline. Such an event's path
        lists both ports, so neither role is lost from the lineage.
        """
        pairs: list[tuple[pb.Artifact, pb.Event]] = []
        existing = self._protos([a.id for arts in ports.values() for a in arts if a.id])
        by_id: dict[int, pb.Event] = {}
        for name, artifacts in ports.items():
            for index, artifact in enumerate(artifacts):
                event = by_id.get(artifact.id) if artifact.id is not None else None
                if event is None:
                    if artifact.id is not None:
                        proto = existing[artifact.id]
                    else:
                        proto = self._to_proto(artifact)
                        if new_state:
                            proto.state = getattr(self.pb.Artifact, new_state)
                    event = self.pb.Event(type=event_type)
                    pairs.append((proto, event))
                    if artifact.id is not None:
                        by_id[artifact.id] = event
                event.path.steps.add().key = name
                event.path.steps.add().index = index
        return pairs

    # ----- reads
    def executions(self, context: pb.Context) -> list[ExecutionRecord]:
        records = []
        type_names = {t.id: t.name for t in self.mlmd.get_execution_types()}
        for e in self.mlmd.get_executions_by_context(context.id):
            props = e.properties
            records.append(ExecutionRecord(
                id=e.id,
                type=type_names.get(e.type_id, "?"),
                node_id=props["node_id"].string_value,
                run_id=props["run_id"].string_value,
                state=self.pb.Execution.State.Name(e.last_known_state),
                outcome=props["outcome"].string_value,
                message=props["message"].string_value,
                cache_key=props["cache_key"].string_value,
                seconds=(e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000,
            ))
        return sorted(records, key=lambda r: r.id)

    def run_exists(self, pipeline: str, run_id: str) -> bool:
        name = f"{pipeline}.{run_id}"
        return self.mlmd.get_context_by_type_and_name("pipeline_run", name) is not None

    def run_ids(self, pipeline: str) -> list[str]:
        """The run ids of ``pipeline``, newest first."""
        prefix = f"{pipeline}."
        runs = [c for c in self.mlmd.get_contexts_by_type("pipeline_run")
                if c.name.startswith(prefix)]
        runs.sort(key=lambda c: (c.create_time_since_epoch, c.id), reverse=True)
        return [c.name.removeprefix(prefix) for c in runs]

    def run_span(self, pipeline: str, run_id: str) -> int | None:
        """The span a run was pinned to (``--span``, ``--spans``), or None if it read the latest."""
        context = self.mlmd.get_context_by_type_and_name("pipeline_run", f"{pipeline}.{run_id}")
        if context is None or RUN_SPAN not in context.custom_properties:
            return None
        return int(context.custom_properties[RUN_SPAN].int_value)

    def pin_run_span(self, pipeline: str, run_id: str, span: int) -> None:
        """Record the span a run is pinned to, so that ``--resume`` reads the same one."""
        context = self.context("pipeline_run", f"{pipeline}.{run_id}")
        context.custom_properties[RUN_SPAN].int_value = span
        self._retry(lambda: self.mlmd.put_contexts([context]))

    def run_executions(self, pipeline: str, run_id: str) -> list[ExecutionRecord]:
        context = self.mlmd.get_context_by_type_and_name("pipeline_run", f"{pipeline}.{run_id}")
        return self.executions(context) if context else []

    def outputs_of(self, execution_id: int) -> dict[str, list[Artifact]]:
        """The LIVE artifacts an execution wrote, by output port."""
        return self._linked(execution_id, self.pb.Event.OUTPUT)

    def inputs_of(self, execution_id: int) -> dict[str, list[Artifact]]:
        return self._linked(execution_id, self.pb.Event.INPUT)

    def _linked(self, execution_id: int, event_type: int) -> dict[str, list[Artifact]]:
        events = [
            e for e in self.mlmd.get_events_by_execution_ids([execution_id])
            if e.type == event_type
        ]
        artifacts = self.artifacts([e.artifact_id for e in events])
        by_id = {a.id: a for a in artifacts}
        placed: list[tuple[str, int, Artifact]] = []
        for event in events:
            artifact = by_id.get(event.artifact_id)
            steps = event.path.steps
            if artifact is not None:  # steps are (port, index) pairs; see ``_events``
                placed += [(steps[i].key, steps[i + 1].index, artifact)
                           for i in range(0, len(steps) - 1, 2)]
        ports: dict[str, list[Artifact]] = {}
        for port, _, artifact in sorted(placed, key=lambda p: (p[0], p[1])):
            ports.setdefault(port, []).append(artifact)
        return ports

    def latest_done_execution(self, contexts: Contexts, node_id: str) -> ExecutionRecord | None:
        """The newest COMPLETE or CACHED execution of ``node_id`` in this run."""
        done = [
            r for r in self.executions(contexts.run)
            if r.node_id == node_id and r.state in DONE_STATES
        ]
        return done[-1] if done else None

    def artifacts(self, ids: Iterable[int], live_only: bool = True) -> list[Artifact]:
        protos = self._protos(list(ids))
        live = self.pb.Artifact.LIVE
        return [
            self._from_proto(p) for p in protos.values() if not live_only or p.state == live
        ]

    def artifacts_in(self, context: pb.Context, type_name: ArtifactType) -> list[Artifact]:
        """LIVE artifacts of one type attributed to ``context``, oldest first."""
        type_id = self.artifact_type_id(type_name)
        return sorted(
            (
                self._from_proto(a) for a in self.mlmd.get_artifacts_by_context(context.id)
                if a.type_id == type_id and a.state == self.pb.Artifact.LIVE
            ),
            key=lambda a: a.id or 0,
        )

    def _protos(self, ids: list[int]) -> dict[int, pb.Artifact]:
        return {a.id: a for a in self.mlmd.get_artifacts_by_id(ids)} if ids else {}

    # ----- conversion between our Artifact and MLMD's
    def _to_proto(self, artifact: Artifact) -> pb.Artifact:
        proto = self.pb.Artifact(type_id=self.artifact_type_id(artifact.type), uri=artifact.uri)
        declared = ARTIFACT_TYPES.get(artifact.type, {})
        _set(proto.properties, **{k: v for k, v in artifact.properties.items() if k in declared})
        _set(proto.custom_properties,
             **{k: v for k, v in artifact.properties.items() if k not in declared})
        return proto

    def _from_proto(self, proto: pb.Artifact) -> Artifact:
        type_name = self._type_name(proto.type_id)
        properties = {k: _value(v) for k, v in proto.custom_properties.items()}
        properties.update({k: _value(v) for k, v in proto.properties.items()})
        return Artifact(type=type_name, uri=proto.uri, id=proto.id, properties=properties)

    def _type_name(self, type_id: int) -> ArtifactType:
        for key, known in self._type_ids.items():
            if known == type_id and key.startswith("artifact:"):
                return key.removeprefix("artifact:")
        [found] = self.mlmd.get_artifact_types_by_id([type_id]) or [None]
        if found is None:
            raise MetadataError(f"ML Metadata has no artifact type with id {type_id}")
        self._type_ids[f"artifact:{found.name}"] = type_id
        return str(found.name)


def _set(target: Any, **values: Any) -> None:
    """Write Python values into an MLMD property map."""
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            target[key].int_value = int(value)
        elif isinstance(value, int):
            target[key].int_value = value
        elif isinstance(value, float):
            target[key].double_value = value
        elif isinstance(value, str):
            target[key].string_value = value
        else:
            target[key].string_value = json.dumps(value, sort_keys=True, default=str)


def _bounded(message: str, limit: int = 4000) -> str:
    """A long message keeps its head (the summary) and its tail (where it ends)."""
    if len(message) <= limit:
        return message
    half = limit // 2
    return f"{message[:half]}\n[... {len(message) - limit} characters ...]\n{message[-half:]}"


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
