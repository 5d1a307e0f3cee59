"""ExampleValidator's executor: validate each split's statistics against the schema (and
against the previous span's, for drift), write the anomalies and reports, and halt the run when
an anomaly reaches ``halt_on``.

TFX's validator only records anomalies; ours is a gate, because a run that trains on a dropped
column or a retyped feature wastes the Trainer's time at best and pushes a bad model at worst.
"""

from __future__ import annotations

import difflib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tensorflow_data_validation.anomalies.proto import validation_config_pb2
from tensorflow_data_validation.api.validation_api import validate_statistics_internal
from tensorflow_data_validation.api.validation_options import ValidationOptions
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2

from components.example_validator import ExampleValidatorParams, gates
from components.example_validator.report import LOUD, Finding, SplitResult, write_reports
from components.schema_file import read_schema
from components.statistics_gen.executor import read_statistics
from pipelines.sdk import (
    Artifact,
    ConfigError,
    ConfigIssue,
    DataError,
    ExecutionContext,
    ExecutorResult,
    layout,
)

_CONFIG = "the pipeline config"
FINDINGS_FILE = "findings.json"  # pipelines/override_commands.py reads it
ACCEPTANCE_FILE = "acceptance.json"  # pipelines/overrides.py writes it
_HALTING = {"error": {"error"}, "warning": {"error", "warning"}, "never": set()}
_SUMMARY_FEATURES = 6  # features named on the first line before "and N more"


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, ExampleValidatorParams)
    statistics, schema_artifact = _required(ctx, "statistics"), _required(ctx, "schema")
    schema = read_schema(Path(schema_artifact.uri) / layout.SCHEMA_FILE)
    set_comparators(schema, params.drift, "drift")
    set_comparators(schema, params.skew, "skew")
    gates.configure(schema, params)
    options = ValidationOptions(severity_overrides=severity_overrides(params.severity_overrides))
    previous = ctx.one("previous_statistics")
    previous_splits = set(layout.split_names(previous)) if previous else set()

    splits = [s for s in layout.split_names(statistics) if s not in params.exclude_splits]
    if not splits:
        raise DataError(f"no split left to validate: the statistics at {statistics.uri} have "
                        f"splits {layout.split_names(statistics)} and exclude_splits removes "
                        f"{params.exclude_splits}. Exclude fewer splits.")
    out = ctx.outputs["anomalies"]
    acceptance = _acceptance(ctx.one("accepted"))
    results = []
    skew_base = _skew_base(statistics, params)
    for done, split in enumerate(splits):
        ctx.progress(done, len(splits), f"validating split {split}")
        current = read_statistics(statistics, split)
        skew_against = skew_base if split != params.skew_split else None
        baseline = None
        notes = []
        if previous is not None and split in previous_splits:
            baseline = read_statistics(previous, split)
        elif params.drift or (params.label_key and params.label_drift):
            notes.append(f"{LOUD}: " + (
                f"the previous span has no split '{split}'" if previous is not None
                else "no earlier span exists, so there is nothing to compare this span with"
            ))
        anomalies = validate_statistics_internal(
            current, schema, previous_span_statistics=baseline, serving_statistics=skew_against,
            validation_options=options,
        )
        target = layout.split_dir(out, split)
        target.mkdir(parents=True, exist_ok=True)
        (target / layout.ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
        results.append(SplitResult(
            split=split,
            statistics=current.datasets[0],
            anomalies=anomalies,
            previous=baseline.datasets[0] if baseline is not None else None,
            notes=notes,
            extra=gates.findings(split, current.datasets[0], schema, params),
            accepted=acceptance.by_split.get(split, {}),
        ))
    ctx.progress(len(splits), len(splits), "writing the report")

    findings = [f for result in results for f in result.findings]
    halting = [f for f in findings if f.severity in _HALTING[params.halt_on]]
    errors = sum(f.severity == "error" for f in findings)
    counts = {
        "anomaly_count": len(findings),
        "error_count": errors,
        "warning_count": len(findings) - errors,
    }
    layout.set_split_names(out, splits)
    out.properties.update(counts)
    out.properties["split_anomalies"] = json.dumps(
        {r.split: len(r.findings) for r in results}
    )

    verdict = summary_line(halting if halting else findings, splits)
    verdict = f"{'HALTED' if halting else 'PASSED'} (halt_on: {params.halt_on}): {verdict}"
    unchecked = sorted({note for result in results for note in result.notes
                        if note.startswith(LOUD)})
    if unchecked:
        verdict += "; " + "; ".join(unchecked)
    if acceptance.note:
        verdict += f"; {acceptance.note}"
        if acceptance.diff is not None and acceptance.diff.is_file():
            shutil.copy(acceptance.diff, out.path / acceptance.diff.name)  # beside the report
    write_findings(out.path, findings)
    title = f"Data validation: {ctx.pipeline_name} / {ctx.node_id} / run {ctx.run_id}"
    html_path, text_path = write_reports(out.path, title, verdict, bool(halting), results)
    reports = [str(html_path), str(text_path)]
    if not halting:
        # The console shows a completed node's message only in logs: make these visible there.
        for finding in findings:
            ctx.log.warning("%s", finding.line())
        return ExecutorResult(message=verdict, reports=reports, properties=counts)
    lines = [summary_line(halting, splits)]
    lines += [f.line() for f in findings]
    lines.append(f"report: {reports[0]}")
    return ExecutorResult(
        outcome="halted", message="\n".join(lines), reports=reports, properties=counts
    )


@dataclass(frozen=True)
class Acceptance:
    """What ``lockgate accept-anomalies`` accepted for this node of this run."""

    by_split: dict[str, dict[str, tuple[frozenset[str], str]]]
    note: str = ""  # who accepted how many, when and why, for the verdict
    diff: Path | None = None  # the proposed schema change, for review


def _acceptance(artifact: Artifact | None) -> Acceptance:
    if artifact is None:
        return Acceptance({})
    record = json.loads((artifact.path / ACCEPTANCE_FILE).read_text())
    props = artifact.properties
    note = (f"accepted by {record['by']} at {props.get('at', '?')} (override execution "
            f"{record['override_execution']}): {record['reason']}")
    by_split: dict[str, dict[str, tuple[frozenset[str], str]]] = {}
    for finding in record["accepted"]:
        features = by_split.setdefault(finding["split"], {})
        codes, _ = features.get(finding["feature"], (frozenset(), note))
        features[finding["feature"]] = (codes | set(finding["reasons"]), note)
    diff = record.get("proposed_schema_diff")
    return Acceptance(
        by_split,
        note=f"{len(record['accepted'])} anomalies {note}; proposed schema change: {diff}",
        diff=Path(diff) if diff else None,
    )


def write_findings(directory: Path, findings: list[Finding]) -> None:
    """Every finding, machine-readable: what ``lockgate accept-anomalies`` accepts."""
    (directory / FINDINGS_FILE).write_text(json.dumps([
        {"split": f.split, "feature": f.feature, "severity": f.severity,
         "reasons": list(f.reasons), "short": f.short}
        for f in findings
    ], indent=2) + "\n")


def summary_line(findings: list[Finding], splits: list[str]) -> str:
    """One line for the console: how many anomalies, where, and which features why."""
    if not findings:
        return f"no anomalies in {_splits_phrase(splits)}"
    where = list(dict.fromkeys(f.split for f in findings))
    named = list(dict.fromkeys(f"{f.feature} ({f.short})" for f in findings))
    shown = ", ".join(named[:_SUMMARY_FEATURES])
    if len(named) > _SUMMARY_FEATURES:
        shown += f" and {len(named) - _SUMMARY_FEATURES} more"
    noun = "anomaly" if len(findings) == 1 else "anomalies"
    return f"{len(findings)} {noun} in {_splits_phrase(where)}: {shown}"


def _splits_phrase(splits: list[str]) -> str:
    return f"split{'s' if len(splits) > 1 else ''} {', '.join(splits)}"


def _skew_base(statistics: Artifact, params: ExampleValidatorParams) -> Any:
    """The statistics of the split the others are compared with for skew, or None."""
    if not params.skew:
        return None
    if params.skew_split not in layout.split_names(statistics):
        raise ConfigError([ConfigIssue(
            _CONFIG, None, "ExampleValidator.params.skew_split",
            f"the statistics have no split '{params.skew_split}' to compare the others with; "
            f"splits: {', '.join(layout.split_names(statistics))}",
        )])
    return read_statistics(statistics, params.skew_split)


def set_comparators(schema: schema_pb2.Schema, thresholds: dict[str, float],
                    kind: Literal["drift", "skew"]) -> None:
    """Put each configured drift (against the previous span) or skew (against another split)
    threshold on its schema feature: L-infinity distance for categorical features,
    Jensen-Shannon divergence for numeric ones (TFDV's comparators)."""
    features = {f.name: f for f in schema.feature}
    issues = []
    for name, threshold in thresholds.items():
        feature = features.get(name)
        if feature is None:
            close = difflib.get_close_matches(name, features, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            issues.append(ConfigIssue(
                _CONFIG, None, f"ExampleValidator.params.{kind}.{name}",
                f"the schema has no feature '{name}'; {hint}features: {', '.join(features)}",
            ))
            continue
        if not threshold > 0:
            issues.append(ConfigIssue(
                _CONFIG, None, f"ExampleValidator.params.{kind}.{name}",
                f"the threshold must be above 0, got {threshold}",
            ))
            continue
        comparator = getattr(feature, f"{kind}_comparator")
        if gates.is_categorical(schema, feature):
            comparator.infinity_norm.threshold = threshold
        else:
            comparator.jensen_shannon_divergence.threshold = threshold
    if issues:
        raise ConfigError(issues)


def severity_overrides(
    overrides: Mapping[str, str],
) -> list[validation_config_pb2.SeverityOverride]:
    kinds = anomalies_pb2.AnomalyInfo.Type
    levels = {"error": anomalies_pb2.AnomalyInfo.ERROR,
              "warning": anomalies_pb2.AnomalyInfo.WARNING}
    result, issues = [], []
    for name, level in overrides.items():
        if name not in kinds.keys():  # noqa: SIM118 (a protobuf enum wrapper, not a dict)
            close = difflib.get_close_matches(name.upper(), kinds.keys(), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            issues.append(ConfigIssue(
                _CONFIG, None, f"ExampleValidator.params.severity_overrides.{name}",
                f"not a TFDV anomaly type; {hint}see tensorflow_metadata's anomalies.proto "
                "(AnomalyInfo.Type) for the names",
            ))
            continue
        result.append(validation_config_pb2.SeverityOverride(
            type=kinds.Value(name), severity=levels[level]
        ))
    if issues:
        raise ConfigError(issues)
    return result


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"ExampleValidator needs its '{name}' input; none was resolved")
    return artifact
