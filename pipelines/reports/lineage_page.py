"""The lineage page of one artifact: every artifact and execution it came from, read from the
events in ML Metadata, back to the data files ExampleGen read and, for a pushed model, on to
the serving version it became. Drawn as a layered SVG, with each node's properties below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipelines.metadata.store import LineageStore
from pipelines.reports.html import GraphNode, esc, layered_svg, page, properties_table

MAX_NODES = 300  # a lineage wider than this is cut, and the page says so

ARTIFACT_FILL = "#eef4fb"
DATA_FILL = "#fdf6e3"
SERVING_FILL = "#e3f3e5"


@dataclass
class Lineage:
    """The graph: nodes by id (``a<id>`` artifacts, ``e<id>`` executions, ``f<n>`` files,
    ``serving``), edges from cause to effect, and each node's properties."""

    root: str
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    truncated: bool = False


def build(store: LineageStore, artifact_id: int) -> Lineage:
    """Walk OUTPUT events back to each artifact's producer, and its INPUT events on to what
    it read. A cache hit re-records an artifact as its output too; the execution that really
    made it (the first) is the one drawn, and the reuses are counted on the artifact."""
    pb = store.pb
    mlmd = store.mlmd
    execution_types = {t.id: t.name for t in mlmd.get_execution_types()}
    lineage = Lineage(root=f"a{artifact_id}")
    pending, seen = [artifact_id], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if len(lineage.nodes) > MAX_NODES:
            lineage.truncated = True
            break
        found = store.artifacts([current], live_only=False)
        if not found:
            continue
        artifact = found[0]
        key = f"a{current}"
        state = pb.Artifact.State.Name(
            mlmd.get_artifacts_by_id([current])[0].state)
        lineage.nodes[key] = GraphNode(
            id=key, label=f"{artifact.type} {current}",
            detail=str(artifact.properties.get("producer_node", "")),
            fill=ARTIFACT_FILL, shape="round", href=f"#{key}",
            tooltip=artifact.uri, meta={"kind": "artifact", "type": artifact.type})
        lineage.properties[key] = {"uri": artifact.uri, "state": state, **artifact.properties}
        events = mlmd.get_events_by_artifact_ids([current])
        makers = sorted(e.execution_id for e in events if e.type == pb.Event.OUTPUT)
        if len(makers) > 1:
            lineage.properties[key]["reused_by_cached_executions"] = ", ".join(
                map(str, makers[1:]))
        _data_files(lineage, key, artifact.properties.get("input_files"))
        if artifact.type == "PushedModel":
            _serving(lineage, key, artifact.properties)
        if not makers:
            continue
        [execution] = mlmd.get_executions_by_id([makers[0]])
        ekey = f"e{execution.id}"
        lineage.edges.append((ekey, key))
        # Data files hang off the execution that read them (ExampleGen's output names them).
        for out in [k for k in lineage.nodes if k.startswith("f")]:
            if (out, key) in lineage.edges:
                lineage.edges.remove((out, key))
                lineage.edges.append((out, ekey))
        if ekey in lineage.nodes:
            continue
        props = {k: _value(v) for k, v in execution.properties.items()}
        props.update({k: _value(v) for k, v in execution.custom_properties.items()
                      if k != "traceback"})
        props["state"] = pb.Execution.State.Name(execution.last_known_state)
        type_name = execution_types.get(execution.type_id, "?").removeprefix("lockgate.")
        lineage.nodes[ekey] = GraphNode(
            id=ekey, label=f"{props.get('node_id', type_name)} #{execution.id}",
            detail=f"{type_name}, {props.get('outcome', '')}, run {props.get('run_id', '')}",
            fill="#ffffff", href=f"#{ekey}", meta={"kind": "execution"},
            tooltip=str(props.get("message", "")))
        lineage.properties[ekey] = props
        for event in mlmd.get_events_by_execution_ids([execution.id]):
            if event.type == pb.Event.INPUT:
                lineage.edges.append((f"a{event.artifact_id}", ekey))
                pending.append(event.artifact_id)
    return lineage


def _data_files(lineage: Lineage, artifact_key: str, raw: Any) -> None:
    if not raw:
        return
    try:
        files = list(json.loads(raw)) if isinstance(raw, str) else list(raw)
    except (TypeError, ValueError):
        files = [str(raw)]
    for path in files:
        key = f"f{len([k for k in lineage.nodes if k.startswith('f')])}"
        lineage.nodes[key] = GraphNode(id=key, label="data file", detail=str(path).split("/")[-1],
                                       fill=DATA_FILL, href=f"#{key}", tooltip=str(path),
                                       meta={"kind": "file"})
        lineage.properties[key] = {"path": path}
        lineage.edges.append((key, artifact_key))


def _serving(lineage: Lineage, artifact_key: str, properties: dict[str, Any]) -> None:
    name, version = properties.get("model_name", "model"), properties.get("version", "?")
    lineage.nodes["serving"] = GraphNode(
        id="serving", label=f"serving {name} v{version}",
        detail=str(properties.get("path", "")).split("/")[-2:][0] if properties.get("path")
        else "", fill=SERVING_FILL, href="#serving", tooltip=str(properties.get("path", "")),
        meta={"kind": "serving", "version": str(version)})
    lineage.properties["serving"] = {
        k: properties[k] for k in ("model_name", "version", "path", "destination", "model_id")
        if k in properties}
    lineage.edges.append((artifact_key, "serving"))


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def render(lineage: Lineage, title: str, subtitle: str) -> str:
    order = sorted(lineage.nodes, key=_order)
    nodes = [lineage.nodes[k] for k in order]
    root = lineage.nodes.get(lineage.root)
    if root is not None:
        root.fill = "#fff1c1"
    body = [
        '<p class="muted">Top to bottom, from the data files to this artifact'
        + (" and the serving version it became" if "serving" in lineage.nodes else "")
        + ". Boxes are executions, rounded boxes artifacts; click one for its properties.</p>",
        f'<div class="card" style="overflow-x:auto">'
        f"{layered_svg(nodes, lineage.edges, vertical=True, layer_gap=34)}</div>",
    ]
    if lineage.truncated:
        body.append(f'<p class="warn">More than {MAX_NODES} nodes: the walk stopped there.</p>')
    body.append("<h2>Nodes</h2>")
    for key in order:
        node = lineage.nodes[key]
        body.append(f'<div class="card" id="{esc(key)}"><h3>{esc(node.label)} '
                    f'<span class="muted">{esc(node.detail)}</span></h3>'
                    f"{properties_table(lineage.properties.get(key, {}))}</div>")
    return page(title, subtitle, "".join(body))


def _order(key: str) -> tuple[int, int]:
    rank = {"f": 0, "e": 1, "a": 1, "s": 2}[key[0]]
    digits = "".join(c for c in key if c.isdigit())
    return rank, int(digits) if digits else 0
