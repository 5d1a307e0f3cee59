"""The gate lines ``lockgate run`` prints under its table: the blessing verdict and the push.

Read from each node's published outputs (the ModelBlessing's ``blessing.json``, the
PushedModel's properties) and its message, so the console needs no Evaluator or Pusher code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipelines.component import Artifact
from pipelines.lineage.blessing import read_verdict


def gate_lines(results: Iterable[tuple[str, str, str, Mapping[str, list[Artifact]]]]
               ) -> list[str]:
    """One line per blessing and per push, from (node, status, message, outputs)."""
    lines = []
    for node_id, status, message, outputs in results:
        found = {a.type: a for arts in outputs.values() for a in arts}
        blessing, evaluation = found.get("ModelBlessing"), found.get("ModelEvaluation")
        if blessing is not None:
            verdict = read_verdict(blessing.uri, evaluation.uri if evaluation else None,
                                   blessing.properties)
            if verdict is not None:
                lines.append(f"{node_id}: {verdict.line()}")
        pushed = found.get("PushedModel")
        if pushed is not None:
            props = pushed.properties
            name = f"{props.get('model_name')} version {props.get('version')}"
            lines.append(f"{node_id}: pushed {name}" if props.get("new_version", 1)
                         else f"{node_id}: already serving {name}; not pushed")
        elif status == "skipped" and message and "PushedModel" not in found:
            first = message.splitlines()[0]
            if "bless" in first or "pushed" in first:
                lines.append(f"{node_id}: not pushed: {first}")
    return lines
