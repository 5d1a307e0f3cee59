"""``lockgate runs`` and ``lockgate show``: what happened in each run, from ML Metadata alone.

A run is a ``pipeline_run`` context (``<pipeline>.<run_id>``), the same for ``lockgate run``,
an Airflow DAG run, a rollback or an override. Listing reads the newest N contexts with one
ordered, limited query, then their executions, events and outputs in three batched reads, so
its cost does not grow with the number of older runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lineage.blessing import Verdict, read_verdict
from pipelines.lineage.connect import Store
from pipelines.lineage.graph import OUTPUT, Artifact, Execution, Records, iso
from pipelines.lineage.snapshot import HASH, NODES, PATH
from pipelines.lineage.target import NotFound
from pipelines.report_paths import RUN_INDEX, run_reports_dir

RUN_TYPE = "pipeline_run"
# Files a component leaves for people to read, for executions recorded before the launcher
# kept their report paths.
KNOWN_REPORTS = ("report.html", "report.txt")


@dataclass(frozen=True)
class Run:
    pipeline: str
    run_id: str
    started: str
    seconds: float
    status: str  # ok | halted at X | failed at X | running X | running: waiting for X
    #   | died at X | empty
    spans: list[int]
    pushed: str  # "penguin version 3", "already serving penguin version 2", or ""
    note: str = ""  # e.g. why the Pusher skipped

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class NodeLine:
    execution: Execution
    cached: bool
    reports: list[str]
    log_path: str
    author_frame: str


@dataclass
class RunDetail:
    run: Run
    nodes: list[NodeLine]
    blessings: list[tuple[Artifact, Verdict | None]] = field(default_factory=list)
    anomalies: list[Artifact] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)  # the run's HTML pages, index first

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run.to_json(),
            "nodes": [{**n.execution.to_json(), "cached": n.cached, "reports": n.reports,
                       "log_path": n.log_path, "author_frame": n.author_frame}
                      for n in self.nodes],
            "blessings": [{"artifact_id": a.id, "uri": a.uri,
                           "verdict": v.to_json() if v else None} for a, v in self.blessings],
            "anomalies": [anomalies_summary(a) for a in self.anomalies],
            "config": self.config,
            "pages": self.pages,
        }


def list_runs(store: Store, pipeline: str | None, limit: int = 20) -> list[Run]:
    """The newest ``limit`` runs of ``pipeline`` (every pipeline when None), newest first."""
    from ml_metadata.metadata_store import metadata_store

    query = f"type = '{RUN_TYPE}'"
    if pipeline is not None:
        query += f" AND name LIKE '{_like(pipeline)}.%'"
    options = metadata_store.ListOptions(
        limit=limit, order_by=metadata_store.OrderByField.CREATE_TIME, is_asc=False,
        filter_query=query)
    contexts = [c for c in store.mlmd.get_contexts(list_options=options)
                if pipeline is None or c.name.startswith(f"{pipeline}.")]
    records = Records(store)
    by_run = {c.id: [records.execution(e) for e in store.mlmd.get_executions_by_context(c.id)]
              for c in contexts}
    records.events_of_executions(e.id for runs in by_run.values() for e in runs)
    return [_run(records, c, by_run[c.id]) for c in contexts]


def show_run(store: Store, run_id: str, pipeline: str | None = None) -> RunDetail:
    """One run, node by node, with its blessing verdicts, anomalies, reports and logs."""
    context = _run_context(store, run_id, pipeline)
    records = Records(store)
    executions = sorted((records.execution(e)
                         for e in store.mlmd.get_executions_by_context(context.id)),
                        key=lambda e: e.id)
    records.events_of_executions(e.id for e in executions)
    detail = RunDetail(_run(records, context, executions), [], config={
        key: context.custom_properties[key].string_value
        for key in (PATH, HASH, "config_source") if key in context.custom_properties
    })
    for execution in executions:
        outputs = records.outputs(execution.id)
        reports = list(execution.json_property("reports", []) or [])
        for artifacts in outputs.values():
            for artifact in artifacts:
                reports += [str(Path(artifact.uri) / name) for name in KNOWN_REPORTS
                            if str(Path(artifact.uri) / name) not in reports
                            and (Path(artifact.uri) / name).is_file()]
        detail.nodes.append(NodeLine(
            execution, execution.outcome == "cached", reports,
            str(execution.custom.get("log_path") or ""),
            str(execution.custom.get("author_frame") or ""),
        ))
        for blessing in outputs.get("blessing", []):
            if blessing.type == "ModelBlessing":
                evaluations = outputs.get("evaluation") or []
                detail.blessings.append((blessing, read_verdict(
                    blessing.uri, evaluations[0].uri if evaluations else None,
                    blessing.properties)))
        detail.anomalies += [a for arts in outputs.values() for a in arts
                             if a.type == "ExampleAnomalies" and a not in detail.anomalies]
    if PATH in detail.config:  # the snapshot lives in <root>/config-snapshots/
        pages = run_reports_dir(Path(detail.config[PATH]).parent.parent, detail.run.run_id)
        detail.pages = sorted((str(p) for p in pages.glob("*.html")),
                              key=lambda p: (not p.endswith(f"/{RUN_INDEX}"), p))
    return detail


def anomalies_summary(artifact: Artifact) -> dict[str, Any]:
    props = artifact.properties
    return {
        "artifact_id": artifact.id, "uri": artifact.uri, "span": props.get("span"),
        "anomalies": props.get("anomaly_count"), "errors": props.get("error_count"),
        "warnings": props.get("warning_count"),
        "by_split": artifact.json_property("split_anomalies", {}),
    }


def _run(records: Records, context: Any, executions: list[Execution]) -> Run:
    pipeline, _, run_id = context.name.partition(".")
    latest: dict[str, Execution] = {}
    for execution in sorted(executions, key=lambda e: e.id):
        latest[execution.node_id] = execution
    spans: set[int] = set()
    pushed, note = "", ""
    for execution in latest.values():
        events = records.events_of_executions([execution.id])[execution.id]
        outputs = records.load_artifacts(e.artifact_id for e in events if e.type == OUTPUT)
        spans |= {a.properties["span"] for a in outputs
                  if a.type == "Examples" and isinstance(a.properties.get("span"), int)}
        for artifact in outputs:
            if artifact.type == "PushedModel":
                props = artifact.properties
                name = f"{props.get('model_name', '?')} version {props.get('version', '?')}"
                pushed = name if props.get("new_version", 1) else f"already serving {name}"
        if execution.outcome == "skipped" and execution.message:
            note = f"{execution.node_id} skipped: {execution.message.splitlines()[0]}"
    started = min((e.created_ms for e in executions), default=context.create_time_since_epoch)
    ended = max((e.updated_ms for e in executions), default=started)
    nodes = (json.loads(context.custom_properties[NODES].string_value)
             if NODES in context.custom_properties else {})
    return Run(pipeline, run_id, iso(started), round((ended - started) / 1000, 3),
               _status(list(latest.values()), nodes), sorted(spans), pushed, note)


def _status(latest: list[Execution], nodes: dict[str, list[str]]) -> str:
    from pipelines.liveness import owner_alive

    for execution in latest:
        if execution.state == "RUNNING":
            owner = str(execution.custom.get("owner") or "")
            alive = not owner or owner_alive(owner) is not False
            return f"{'running' if alive else 'died at'} {execution.node_id}"
    for execution in latest:
        if execution.outcome == "failed":
            return f"failed at {execution.node_id}"
        if execution.outcome == "halted":
            return f"halted at {execution.node_id}"
    waiting = _not_started(latest, nodes)
    if waiting:  # an Airflow run between two tasks
        return f"running: waiting for {waiting[0]}"
    return "ok" if latest else "empty"


def _not_started(latest: list[Execution], nodes: dict[str, list[str]]) -> list[str]:
    """The run's nodes that have no execution yet, but for those downstream of a node that
    skipped (Airflow skips them without running them)."""
    ran = {e.node_id for e in latest}
    excused = {e.node_id for e in latest if e.outcome == "skipped"}
    grown = True
    while grown:
        more = {n for n, upstream in nodes.items() if excused & set(upstream)} - excused
        excused |= more
        grown = bool(more)
    return [n for n in nodes if n not in ran and n not in excused]


def _run_context(store: Store, run_id: str, pipeline: str | None) -> Any:
    if pipeline is not None:
        found = store.mlmd.get_context_by_type_and_name(RUN_TYPE, f"{pipeline}.{run_id}")
        if found is None:
            raise NotFound(_unknown(store, run_id, pipeline))
        return found
    from ml_metadata.metadata_store import metadata_store

    options = metadata_store.ListOptions(
        filter_query=f"type = '{RUN_TYPE}' AND name LIKE '%.{_like(run_id)}'")
    found = [c for c in store.mlmd.get_contexts(list_options=options)
             if c.name.partition(".")[2] == run_id]
    if len(found) > 1:
        names = ", ".join(c.name.partition(".")[0] for c in found)
        raise NotFound(f"run '{run_id}' exists in several pipelines ({names}); pass --pipeline")
    if not found:
        raise NotFound(_unknown(store, run_id, None))
    return found[0]


def _unknown(store: Store, run_id: str, pipeline: str | None) -> str:
    recent = list_runs(store, pipeline, limit=5)
    listing = "\n".join(f"  {r.pipeline} {r.run_id}" for r in recent) or "  (none yet)"
    where = f"pipeline {pipeline}" if pipeline else "ML Metadata"
    return f"{where} has no run '{run_id}'; the newest runs are:\n{listing}"


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` literally enough: quotes doubled; ``_`` and ``%`` still
    match themselves (and, harmlessly, more: callers check the names they get)."""
    return text.replace("'", "''")
