"""A ModelBlessing's verdict, threshold by threshold, for people: from ``blessing.json`` (what
was configured and what failed) and the evaluation's ``summary.json`` (the measured values).

TFMA decided; this only restates it. A threshold's pass or fail is the Evaluator's (a failure
listed in ``blessing.json``); the value beside it is the overall candidate value.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BLESSING_FILE = "blessing.json"  # components/evaluator/markers.py (no import: a plug-in)
SUMMARY_FILE = "summary.json"
OVERALL = "overall"


@dataclass(frozen=True)
class Check:
    """One configured threshold on the overall slice, and how the candidate did."""

    metric: str  # the metric's name in TFMA's output, e.g. sparse_categorical_accuracy
    kind: str  # lower | upper | change
    bound: float
    value: float | None  # the candidate's value, or its change from the baseline
    passed: bool | None  # None: not applied (a change threshold with no baseline)
    direction: str = ""  # change thresholds

    def text(self, baseline_id: int | None = None) -> str:
        if self.kind == "change":
            if self.value is None:
                return f"{self.metric}: no baseline, change not checked"
            sign = ">=" if self.direction != "lower_is_better" else "<="
            versus = f" vs model {baseline_id}" if baseline_id is not None else " vs baseline"
            return f"{self.metric} {self.value:+.4g}{versus} ({sign} {self.bound:+.4g})"
        sign = ">=" if self.kind == "lower" else "<="
        return f"{self.metric} {_num(self.value)} {sign} {self.bound:.15g}"


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    model_id: int | None
    baseline_model_id: int | None
    message: str
    checks: list[Check] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # every failed threshold, explained
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # overall slice
    override: dict[str, Any] = field(default_factory=dict)  # `lockgate bless`: by, reason

    def line(self) -> str:
        """``blessed: accuracy 0.98 >= 0.6; +0.01 vs model 7`` or the refusal, every failure."""
        if not self.blessed:
            shown = "; ".join(self.failures) or self.message.removeprefix("not blessed: ")
            return f"not blessed: {shown}"
        parts = [c.text(self.baseline_model_id) for c in self.checks if c.passed is not None]
        if self.override:
            parts.append(f"by override: {self.override.get('by')}, {self.override.get('reason')}")
        return "blessed" + (f": {'; '.join(parts)}" if parts else "")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line()}


def read_verdict(blessing_uri: str, evaluation_uri: str | None = None,
                 properties: dict[str, Any] | None = None) -> Verdict | None:
    """The verdict in a ModelBlessing directory, or None when it has no ``blessing.json``."""
    record = _read(Path(blessing_uri) / BLESSING_FILE)
    if record is None:
        return None
    props = properties or {}
    summary = _read(Path(evaluation_uri) / SUMMARY_FILE) if evaluation_uri else None
    overall = ((summary or {}).get("slices") or {}).get(OVERALL) or {}
    failures = record.get("failures") or []
    baseline = record.get("baseline_model_id")
    checks = []
    for threshold in record.get("thresholds") or []:
        metric = _metric_key(str(threshold.get("metric", "")), overall)
        values = overall.get(metric, {})
        failed = {f.get("kind") for f in failures
                  if f.get("slice", OVERALL) == OVERALL and _same(f.get("metric", ""), metric)}
        for kind in ("lower", "upper"):
            if threshold.get(kind) is not None:
                checks.append(Check(metric, kind, float(threshold[kind]), values.get("value"),
                                    kind not in failed))
        change = threshold.get("change")
        if change:
            applied = baseline is not None and "change" in values
            checks.append(Check(metric, "change", float(change.get("absolute", 0.0)),
                                values.get("change") if applied else None,
                                ("change" not in failed) if applied else None,
                                str(change.get("direction", ""))))
    override = ({k: props.get(k) for k in ("by", "reason", "at", "override_execution")}
                if props.get("override") == 1 else {})
    return Verdict(
        blessed=bool(record.get("blessed")) or props.get("blessed") == 1,
        model_id=record.get("model_id", props.get("model_id")),
        baseline_model_id=baseline if baseline not in (None, -1) else None,
        message=str(record.get("message", "")),
        checks=checks,
        failures=[str(f.get("message") or f) for f in failures],
        metrics={k: v for k, v in overall.items() if isinstance(v, dict)},
        override=override,
    )


def _metric_key(class_name: str, overall: dict[str, Any]) -> str:
    """TFMA names SparseCategoricalAccuracy ``sparse_categorical_accuracy`` (maybe with an
    output name in front)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    for key in overall:
        if _same(key, snake) or key == class_name:
            return str(key)
    return snake


def _same(key: str, name: str) -> bool:
    return key == name or key.endswith(f"/{name}")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"
