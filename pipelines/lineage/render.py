"""Plain-text views of the lineage queries, for a terminal; ``--json`` prints the records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipelines.lineage.runs import Run, RunDetail, anomalies_summary
from pipelines.lineage.walk import Impact, Step


def runs_table(runs: list[Run]) -> str:
    if not runs:
        return "no runs yet"
    rows = [("pipeline", "run", "started", "seconds", "status", "spans", "pushed")]
    rows += [(r.pipeline, r.run_id, r.started, f"{r.seconds:.1f}", r.status,
              ",".join(map(str, r.spans)) or "-", r.pushed or (r.note and "not pushed") or "-")
             for r in runs]
    return _table(rows)


def run_detail(detail: RunDetail) -> str:
    run = detail.run
    lines = [f"{run.pipeline} run {run.run_id}: {run.status}, started {run.started}, "
             f"{run.seconds:.1f}s, span(s) {','.join(map(str, run.spans)) or '-'}"
             + (f", pushed {run.pushed}" if run.pushed else "")]
    rows = [("node", "status", "seconds", "execution", "cache", "message")]
    for node in detail.nodes:
        e = node.execution
        rows.append((e.node_id, e.outcome or e.state.lower(), f"{e.seconds:.1f}", str(e.id),
                     "hit" if node.cached else "-", (e.message.splitlines() or [""])[0][:100]))
    lines.append(_table(rows))
    for node in detail.nodes:
        if node.log_path:
            lines.append(f"{node.execution.node_id} failed: log {node.log_path}"
                         + (f"\n  at {node.author_frame}" if node.author_frame else ""))
    for blessing, verdict in detail.blessings:
        lines.append(f"blessing {blessing.id}: "
                     + (verdict.line() if verdict else "(no blessing.json)"))
        if verdict:
            for check in verdict.checks:
                state = {True: "pass", False: "FAIL", None: "n/a"}[check.passed]
                lines.append(f"  {state:<4} {check.text(verdict.baseline_model_id)}")
    for anomalies in detail.anomalies:
        found = anomalies_summary(anomalies)
        lines.append(f"anomalies {found['artifact_id']}: {found['anomalies']} "
                     f"({found['errors']} errors, {found['warnings']} warnings) by split "
                     f"{found['by_split']}")
    reports = [(n.execution.node_id, r) for n in detail.nodes for r in n.reports]
    for node_id, report in reports:
        lines.append(f"report ({node_id}): {report}")
    lines += [f"page: {page}" for page in detail.pages]
    if not detail.pages:
        lines.append(f"pages: none written yet; `lockgate report {detail.run.run_id}` writes "
                     "them")
    if detail.config:
        lines.append(f"config snapshot: {detail.config.get('config_snapshot')} "
                     f"(sha256 {detail.config.get('config_hash', '')[:16]})")
    return "\n".join(lines)


def tree(step: Step, direction: str) -> str:
    lines: list[str] = []

    def artifact(s: Step, indent: str) -> None:
        a = s.artifact
        port = f"{s.port}: " if s.port else ""
        span = f" span {a.properties['span']}" if a.properties.get("span") is not None else ""
        lines.append(f"{indent}{port}{a.type} {a.id}{span} {a.uri}"
                     + (" (shown above)" if s.seen else ""))
        for hop in s.executions:
            e = hop.execution
            via = f" read as {hop.port}" if direction == "downstream" and hop.port else ""
            extra = f", reused by {hop.reused_by} cache hit(s)" if hop.reused_by else ""
            comparison = " (comparison)" if hop.comparison else ""
            arrow = "<-" if direction == "upstream" else "->"
            lines.append(f"{indent}  {arrow} {e.component} {e.node_id} execution {e.id} "
                         f"(run {e.run_id}, {e.outcome}{extra}){via}{comparison}")
            for child in hop.artifacts:
                artifact(child, indent + "     ")

    artifact(step, "")
    return "\n".join(lines)


def impact(found: Impact) -> str:
    lines = ["from: " + ", ".join(f"{a.type} {a.id}"
                                  + (f" span {a.properties['span']}"
                                     if a.properties.get("span") is not None else "")
                                  for a in found.starts)]
    serving_ids = {v.get("model_id") for v in found.serving.values()}
    kinds: dict[str, list[str]] = {}
    for a in found.artifacts:
        label = f"{a.id}"
        if a.type == "Model":
            label += " (SERVING)" if a.id in serving_ids else " (not serving)"
        if a.type == "ModelBlessing":
            label += " blessed" if a.properties.get("blessed") == 1 else " not blessed"
        if a.type == "PushedModel":
            label += f" = {a.properties.get('model_name')} version {a.properties.get('version')}"
        kinds.setdefault(a.type, []).append(label)
    for kind, labels in kinds.items():
        lines.append(f"  {kind}: {', '.join(labels)}")
    for name, now in found.serving.items():
        ours = now.get("model_id") in {m.id for m in found.models()}
        lines.append(f"serving now: {name} version {now['version']} (model {now['model_id']})"
                     + (": made from this" if ours else ": not made from this"))
    for execution, compared in found.comparisons:
        lines.append(f"compared with: {execution.node_id} execution {execution.id} (run "
                     f"{execution.run_id}) read artifact {compared.id} as a comparison")
    return "\n".join(lines)


def serving(found: dict[str, Any]) -> str:
    s = found["serving"]
    model = found["model"]
    lines = [f"{found['pipeline']}: {s['model_name']} version {s['version']}"
             f"{' (serving now)' if s['serving_now'] else ''} holds model {model['id']} "
             f"({model['uri']})"]
    for data in found["data"]:
        lines.append(f"data: span {data['span']} version {data['version']}, Examples "
                     f"{data['artifact_id']}, rows {data['split_rows']}")
        lines += [f"  file {f['path']}  fingerprint {f['fingerprint'] or '(not recorded)'}"
                  for f in data["files"]]
    for base in found.get("warm_started_from", []):
        lines.append(f"warm-started from: model {base['id']} ({base['uri']}); its own "
                     f"lineage: lockgate lineage {base['id']}")
    for schema in found["schema"]:
        lines.append(f"schema: {schema['path']}  fingerprint {schema['fingerprint']}"
                     + (f" ({schema['source']})" if schema["source"] else ""))
    for code in found["code"]:
        lines.append(f"code: {code['path']}  fingerprint {code['fingerprint']} "
                     f"({', '.join(code['nodes'])})")
    config = found["config"]
    if config:
        lines.append(f"config: {config['path']}  sha256 {config['hash']}"
                     + ("" if config["intact"] else "  (FILE CHANGED OR MISSING)"))
    versions = ", ".join(f"{e['node_id']} {e['component']} v{e['component_version']} "
                         f"(execution {e['id']}, run {e['run_id']})"
                         for e in found["executions"])
    lines.append(f"components: {versions}")
    for anomalies in found["anomalies"]:
        lines.append(f"anomalies: {anomalies['anomalies']} ({anomalies['errors']} errors, "
                     f"{anomalies['warnings']} warnings) in ExampleAnomalies "
                     f"{anomalies['artifact_id']}")
    evaluation = found["evaluation"]
    verdict = evaluation.get("verdict")
    if verdict:
        lines.append(f"evaluation: blessing {evaluation['blessing_id']}: {verdict['line']}")
        metrics = ", ".join(f"{k} {v.get('value'):.4g}" for k, v in verdict["metrics"].items()
                            if isinstance(v.get("value"), float))
        if metrics:
            lines.append(f"  metrics (overall): {metrics}")
        if evaluation.get("baseline_model_id") is not None:
            lines.append(f"  baseline: model {evaluation['baseline_model_id']}")
    for override in found["overrides"]:
        lines.append(f"override: {override['kind']} by {override['by']} at {override['at']}: "
                     f"{override['reason']} (execution {override['id']})")
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     .rstrip() for row in rows)
