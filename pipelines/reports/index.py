"""A run's report index, ``<root>/reports/<run_id>/index.html``, and the pages it links.

The index is rewritten whenever it is asked for (after each Airflow task, at the end of
``lockgate run``, by ``lockgate report``): it only reads ML Metadata. The pages it links are
made from immutable artifacts, so each is written once per set of artifacts it shows (its
key is in its second line) and only the missing ones cost TFDV or TFMA a load.

Reports never fail a run: a page that cannot be made is listed with the reason instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from pipelines.component import Artifact
from pipelines.graph import Pipeline
from pipelines.metadata.store import ExecutionRecord, LineageStore
from pipelines.native_noise import heavy_imports_quieted
from pipelines.overrides import OverrideRecord, overrides_of
from pipelines.report_paths import RUN_INDEX as INDEX
from pipelines.report_paths import run_reports_dir
from pipelines.reports.html import (
    STATUS_FILL,
    GraphNode,
    badge,
    esc,
    layered_svg,
    page,
    table,
)

log = logging.getLogger("lockgate.reports")
VALIDATOR_REPORT = "report.html"  # ExampleAnomalies: the ExampleValidator's own page
KEY_PREFIX = "<!-- lockgate-report-key: "


@dataclass
class Link:
    title: str
    path: Path | None
    error: str = ""


@dataclass
class RunReports:
    index: Path
    reports: list[Link] = field(default_factory=list)
    lineage: dict[int, Path] = field(default_factory=dict)  # artifact id -> its lineage page


def report_dir(pipeline: Pipeline, run_id: str) -> Path:
    return run_reports_dir(pipeline.config.root, run_id)


def write_run_reports(pipeline: Pipeline, run_id: str,
                      store: LineageStore | None = None) -> RunReports:
    """Write the index of ``run_id`` and every page it links that is missing; return them."""
    with heavy_imports_quieted():  # the statistics pages load TFDV
        return _write_run_reports(pipeline, run_id, store)


def _write_run_reports(pipeline: Pipeline, run_id: str,
                       store: LineageStore | None) -> RunReports:
    store = store or LineageStore(pipeline.config.metadata)
    out = report_dir(pipeline, run_id)
    out.mkdir(parents=True, exist_ok=True)
    latest = _latest(store.run_executions(pipeline.name, run_id))
    outputs = {node: store.outputs_of(r.id) for node, r in latest.items()}
    inputs = {node: store.inputs_of(r.id) for node, r in latest.items()}
    result = RunReports(index=out / INDEX)
    artifacts = [(node, port, a) for node, ports in outputs.items()
                 for port, arts in ports.items() for a in arts]
    made_in = _made_in(store, [a.id for _, _, a in artifacts if a.id is not None])

    def page_of(artifact: Artifact, name: str, title: str, key: str,
                make: Callable[[], str]) -> Link:
        """The page in the report folder of the run that made ``artifact``, when it is there
        with the same key (a cache hit reuses it: nothing to render), else written here."""
        home = made_in.get(artifact.id or 0)
        if home is not None and home != run_id:
            found = report_dir(pipeline, home) / name
            if _holds(found, key):
                return Link(title, found)
        return _page(title, out / name, key, make)

    for node, _port, artifact in artifacts:
        if artifact.type == "ExampleAnomalies":
            report = Path(artifact.uri) / VALIDATOR_REPORT
            result.reports.append(Link(f"{node}: data validation (ExampleValidator report)",
                                       report if report.is_file() else None,
                                       "" if report.is_file() else f"no {report}"))
        elif artifact.type == "ExampleStatistics":
            schema, previous = _statistics_context(artifact, outputs, inputs)
            key = f"{artifact.id}:{schema.id if schema else ''}:{previous.id if previous else ''}"
            result.reports.append(page_of(
                artifact, f"statistics-{artifact.id}.html",
                f"{node}: statistics, skew and drift (statistics {artifact.id})", key,
                partial(_statistics_html, pipeline, run_id, node, artifact, schema, previous)))
        elif artifact.type == "ModelEvaluation":
            blessing = next(iter(outputs[node].get("blessing", [])), None)
            key = f"{artifact.id}:{blessing.id if blessing else ''}"
            result.reports.append(page_of(
                artifact, f"evaluation-{artifact.id}.html",
                f"{node}: model evaluation (evaluation {artifact.id})", key,
                partial(_evaluation_html, pipeline, run_id, node, artifact, blessing)))
    for _node, _port, artifact in artifacts:
        assert artifact.id is not None
        link = page_of(artifact, f"lineage-{artifact.id}.html",
                       f"lineage of {artifact.type} {artifact.id}", str(artifact.id),
                       partial(_lineage_html, store, pipeline, run_id, artifact))
        if link.path is not None:
            result.lineage[artifact.id] = link.path
        elif link.error:
            result.reports.append(link)
    touched = {a.id for ports in (*outputs.values(), *inputs.values())
               for arts in ports.values() for a in arts}
    overrides = [o for o in overrides_of(store, pipeline.name)
                 if touched & {i for ids in (*o.inputs.values(), *o.outputs.values())
                               for i in ids}]
    _atomic_write(result.index,
                  _index_html(pipeline, run_id, latest, outputs, result, overrides))
    return result


def _latest(records: list[ExecutionRecord]) -> dict[str, ExecutionRecord]:
    latest: dict[str, ExecutionRecord] = {}
    for record in records:  # oldest first: a later attempt (a retry, a resume) wins
        latest[record.node_id] = record
    return latest


def _statistics_context(
    statistics: Artifact, outputs: dict[str, dict[str, list[Artifact]]],
    inputs: dict[str, dict[str, list[Artifact]]],
) -> tuple[Artifact | None, Artifact | None]:
    """The run's schema, and the previous span's statistics a node of this run compared
    these with (the ExampleValidator's ``previous_statistics``), if any."""
    schema = previous = None
    for ports in inputs.values():
        if any(a.id == statistics.id for a in ports.get("statistics", [])):
            schema = schema or next(iter(ports.get("schema", [])), None)
            previous = previous or next(iter(ports.get("previous_statistics", [])), None)
    if schema is None:
        schema = next((a for ports in outputs.values() for arts in ports.values() for a in arts
                       if a.type == "Schema"), None)
    return schema, previous


def _made_in(store: LineageStore, artifact_ids: list[int]) -> dict[int, str]:
    """Artifact id -> the run whose execution wrote it first (a cache hit only reuses it)."""
    if not artifact_ids:
        return {}
    first: dict[int, int] = {}
    for event in store.mlmd.get_events_by_artifact_ids(artifact_ids):
        if event.type == store.pb.Event.OUTPUT:
            first[event.artifact_id] = min(first.get(event.artifact_id, event.execution_id),
                                           event.execution_id)
    runs = {e.id: e.properties["run_id"].string_value
            for e in store.mlmd.get_executions_by_id(sorted(set(first.values())))}
    return {artifact: runs[execution] for artifact, execution in first.items()
            if execution in runs}


def _holds(path: Path, key: str) -> bool:
    """Whether ``path`` is the page written for ``key`` (on its line 2, after the doctype)."""
    if not path.is_file():
        return False
    with path.open() as handle:
        return [handle.readline().strip() for _ in range(2)][1] == f"{KEY_PREFIX}{key} -->"


def _page(title: str, path: Path, key: str, make: Callable[[], str]) -> Link:
    """Write ``path`` unless it already holds ``key``'s page; never raise."""
    try:
        if _holds(path, key):
            return Link(title, path)
        doctype, _, rest = make().partition("\n")
        _atomic_write(path, f"{doctype}\n{KEY_PREFIX}{key} -->\n{rest}")
        return Link(title, path)
    except Exception as exc:  # a report must never fail the run it describes
        log.warning("could not write %s: %s: %s", path, type(exc).__name__, exc)
        return Link(title, None, f"{type(exc).__name__}: {exc}")


def _atomic_write(path: Path, text: str) -> None:
    """Readers (a browser, a concurrent task) see the old file or the new, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _subtitle(pipeline: Pipeline, run_id: str, extra: str = "") -> str:
    back = f' · <a href="{INDEX}">run index</a>'
    return (f"pipeline {esc(pipeline.name)} · run {esc(run_id)}"
            + (f" · {esc(extra)}" if extra else "") + back)


def _statistics_html(pipeline: Pipeline, run_id: str, node: str, artifact: Artifact,
                     schema: Artifact | None, previous: Artifact | None) -> str:
    from pipelines.reports import statistics

    data = statistics.build(artifact, schema, previous)
    span = artifact.properties.get("span")
    return statistics.render(data, f"Statistics — {node}",
                             _subtitle(pipeline, run_id, f"statistics {artifact.id}"
                                       + (f", span {span}" if span is not None else "")))


def _evaluation_html(pipeline: Pipeline, run_id: str, node: str, artifact: Artifact,
                     blessing: Artifact | None) -> str:
    from pipelines.reports import evaluation

    data = evaluation.build(artifact, blessing)
    return evaluation.render(data, f"Evaluation — {node}",
                             _subtitle(pipeline, run_id, f"evaluation {artifact.id}"))


def _lineage_html(store: LineageStore, pipeline: Pipeline, run_id: str,
                  artifact: Artifact) -> str:
    from pipelines.reports import lineage_page

    lineage = lineage_page.build(store, artifact.id or 0)
    return lineage_page.render(lineage, f"Lineage of {artifact.type} {artifact.id}",
                               _subtitle(pipeline, run_id, artifact.uri))


def _index_html(pipeline: Pipeline, run_id: str, latest: dict[str, ExecutionRecord],
                outputs: dict[str, dict[str, list[Artifact]]], result: RunReports,
                overrides: list[OverrideRecord]) -> str:
    here = result.index.parent
    statuses = {node: _status(latest.get(node)) for node in pipeline.order}
    nodes = [GraphNode(id=node, label=node, detail=f"{pipeline.nodes[node].spec.name} · "
                       f"{statuses[node]}", fill=STATUS_FILL.get(statuses[node], "#fff"),
                       href=f"#node-{node}", meta={"status": statuses[node]})
             for node in pipeline.order]
    edges = [(up, node) for node in pipeline.order for up in sorted(pipeline.nodes[node].upstream)]
    body = [f'<h2>Pipeline</h2><div class="card" style="overflow-x:auto" id="dag">'
            f"{layered_svg(nodes, edges, width_per_node=168, layer_gap=34)}</div>"]
    links = []
    for link in result.reports:
        if link.path is not None:
            links.append(f'<li><a class="report" href="{esc(_rel(link.path, here))}">'
                         f"{esc(link.title)}</a></li>")
        else:
            links.append(f'<li>{esc(link.title)}: <span class="warn">not available '
                         f"({esc(link.error)})</span></li>")
    pushed = [a for ports in outputs.values() for arts in ports.values() for a in arts
              if a.type == "PushedModel" and a.id in result.lineage]
    for artifact in pushed:
        assert artifact.id is not None
        links.append(f'<li><a class="report lineage-pushed" href="'
                     f'{esc(_rel(result.lineage[artifact.id], here))}">lineage of the pushed '
                     f"model (PushedModel {artifact.id}, version "
                     f'{esc(artifact.properties.get("version", "?"))})</a></li>')
    body.append("<h2>Reports</h2><ul>" + ("".join(links) or "<li>none yet</li>") + "</ul>")
    if overrides:  # gates a person overrode for what this run read or made: never silent
        body.append("<h2>Overrides</h2>" + table(
            ["kind", "by", "at", "reason", "artifacts"],
            [(esc(o.kind), esc(o.by), esc(o.at), esc(o.reason),
              esc(", ".join(f"{port} {ids}" for port, ids in {**o.inputs, **o.outputs}.items())))
             for o in overrides], table_id="overrides"))
    rows = []
    for node in pipeline.order:
        record = latest.get(node)
        arts = []
        for port, artifacts in outputs.get(node, {}).items():
            for artifact in artifacts:
                target = result.lineage.get(artifact.id or -1)
                name = f"{port}: {artifact.type} {artifact.id}"
                arts.append(f'<a class="artifact" data-artifact="{artifact.id}" href="'
                            f'{esc(_rel(target, here))}">{esc(name)}</a>' if target
                            else esc(name))
        message = (record.message.splitlines() or [""])[0] if record else ""
        rows.append((
            f'<td id="node-{esc(node)}">{esc(node)}</td>', esc(pipeline.nodes[node].spec.name),
            f'<td class="status" data-status="{esc(statuses[node])}">'
            f"{badge(statuses[node])}</td>",
            f"{record.seconds:.1f}s" if record else "",
            esc(record.id) if record else "", esc(message[:300]),
            "<br>".join(arts) or '<span class="muted">none</span>'))
    body.append("<h2>Nodes</h2>" + table(
        ["node", "component", "status", "time", "execution", "message",
         "outputs (each links its lineage)"], rows, table_id="nodes"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return page(f"{pipeline.name} — run {run_id}",
                f"pipeline {esc(pipeline.name)} · run {esc(run_id)} · written {stamp}",
                "".join(body))


def _status(record: ExecutionRecord | None) -> str:
    if record is None:
        return "not-run"
    if record.state == "RUNNING":
        return "running"
    return record.outcome or record.state.lower()


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()
