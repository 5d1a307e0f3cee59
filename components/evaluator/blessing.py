"""Read TFMA's results and judge the model: metric values per slice, and every failed threshold.

TFMA decides (``ValidationResult``); this module only reshapes its verdict into what people and
the Pusher read: ``summary.json`` (metric values per slice), ``blessing.json`` (every failed
metric, slice, threshold, actual value and baseline value) and the BLESSED / NOT_BLESSED marker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import metrics_for_slice_pb2, validation_result_pb2

from components.evaluator.eval_config import BASELINE, CANDIDATE
from components.evaluator.markers import (
    BLESSED_FILE,
    BLESSING_FILE,
    MESSAGE_FAILURES,
    NOT_BLESSED_FILE,
)

SUMMARY_FILE = "summary.json"
OVERALL = "overall"

# slice name -> metric name -> {"value": candidate, "baseline": ..., "change": ...}
MetricTable = dict[str, dict[str, dict[str, float]]]
FailureKind = Literal[
    "lower", "upper", "change", "missing_metric", "missing_slice", "other", "disagreement"
]


@dataclass(frozen=True)
class Failure:
    """One threshold a model failed, on one slice."""

    kind: FailureKind
    metric: str
    slice: str
    value: float | None = None  # the candidate's value
    bound: float | None = None  # lower or upper bound, or the allowed absolute change
    direction: str | None = None  # change thresholds: higher_is_better | lower_is_better
    baseline: float | None = None
    change: float | None = None  # candidate - baseline
    detail: str = ""
    # Set on a judgement made on the reference set: what that set is (reference.py).
    reference: str = ""
    # disagreement: ``value`` is the baseline's on the candidate's eval split, this its value
    # on the reference, ``change`` the difference and ``bound`` the tolerance.
    reference_value: float | None = None

    def describe(self) -> str:
        if self.kind == "disagreement":
            return (
                f"the new span's labels disagree with the reference ({self.reference}): the "
                f"baseline scores {self.metric} {_num(self.value)} on the candidate's eval "
                f"split but {_num(self.reference_value)} on the reference, a difference of "
                f"{_num(self.change, signed=True)} beyond the tolerance {_bound(self.bound)}"
            )
        text = self._describe()
        return f"on the reference ({self.reference}): {text}" if self.reference else text

    def _describe(self) -> str:
        where = f"({self.slice})"
        if self.kind == "missing_slice":
            return f"no eval examples fall in slice {self.slice}, which {self.detail}"
        if self.kind in ("missing_metric", "other"):
            return f"{self.metric}: {self.detail} {where}"
        if self.kind == "change":
            sign = "<" if self.direction == "higher_is_better" else ">"
            return (
                f"{self.metric} {_num(self.value)} vs baseline {_num(self.baseline)}: change "
                f"{_num(self.change, signed=True)} {sign} allowed "
                f"{_bound(self.bound, signed=True)} ({self.direction}) {where}"
            )
        sign = "<" if self.kind == "lower" else ">"
        bound = _bound(self.bound)
        return f"{self.metric} {_num(self.value)} {sign} {self.kind} bound {bound} {where}"

    def to_json(self) -> dict[str, Any]:
        record = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        record["message"] = self.describe()
        return record


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    failures: list[Failure]
    rubber_stamped: bool = False  # no threshold applied (only change thresholds, no baseline)

    def message(self) -> str:
        if self.blessed:
            return "blessed"
        shown = "; ".join(f.describe() for f in self.failures[:MESSAGE_FAILURES])
        more = len(self.failures) - MESSAGE_FAILURES
        if more > 0:
            shown += f"; and {more} more (see {BLESSING_FILE})"
        return f"not blessed: {shown or 'TFMA reported the validation as failed'}"


def slice_name(slice_key: Iterable[tuple[str, Any]]) -> str:
    """``overall`` or ``country=US`` (``a=x,b=y`` for crossed features)."""
    parts = [f"{column}={_text(value)}" for column, value in slice_key]
    return ",".join(parts) or OVERALL


def spec_name(spec: tfma.SlicingSpec) -> str:
    keys = list(spec.feature_keys) + [f"{k}={v}" for k, v in sorted(spec.feature_values.items())]
    return "[" + ", ".join(keys) + "]" if keys else OVERALL


def read_metrics(output_path: str) -> MetricTable:
    """Scalar metrics per slice from TFMA's output, candidate and baseline side by side."""
    table: MetricTable = {}
    for record in tfma.load_metrics(output_path):
        name = slice_name(tfma.slicer.deserialize_slice_key(record.slice_key))
        row = table.setdefault(name, {})
        for entry in record.metric_keys_and_values:
            value = _scalar(entry.value)
            if value is None:
                continue
            key = entry.key
            column = (
                "change" if key.is_diff
                else "baseline" if key.model_name == BASELINE
                else "value" if key.model_name in (CANDIDATE, "")
                else key.model_name
            )
            row.setdefault(metric_name(key), {})[column] = value
    return dict(sorted(table.items(), key=lambda item: (item[0] != OVERALL, item[0])))


def judge(
    validation: validation_result_pb2.ValidationResult,
    metrics: MetricTable,
    slice_thresholds: dict[str, list[str]],
) -> Verdict:
    """The blessing TFMA's ``validation`` implies, with every failure explained.

    ``slice_thresholds`` maps a slicing spec's name to the metrics with thresholds on it, to
    say which thresholds a slice absent from the data left unchecked.
    """
    failures: list[Failure] = []
    for per_slice in validation.metric_validations_per_slice:
        name = slice_name(tfma.slicer.deserialize_slice_key(per_slice.slice_key))
        for failure in per_slice.failures:
            failures.append(_failure(failure, name, metrics.get(name, {})))
    for spec in validation.missing_slices:
        needed = slice_thresholds.get(spec_name(spec)) or ["a threshold"]
        failures.append(Failure(
            kind="missing_slice", metric=", ".join(needed), slice=spec_name(spec),
            detail=f"the thresholds on {', '.join(needed)} need",
        ))
    if not validation.validation_ok and not failures:
        failures.append(Failure(kind="other", metric="*", slice=OVERALL,
                                detail="TFMA reported the validation as failed"))
    return Verdict(
        blessed=validation.validation_ok,
        failures=failures,
        rubber_stamped=validation.rubber_stamp,
    )


def write_summary(
    directory: Path, metrics: MetricTable, model_id: int | None, baseline_id: int | None
) -> None:
    summary = {"model_id": model_id, "baseline_model_id": baseline_id, "slices": metrics}
    _write_json(directory / SUMMARY_FILE, summary)


def write_blessing(
    directory: Path, verdict: Verdict, model_id: int | None, baseline_id: int | None,
    thresholds: list[dict[str, Any]], judgements: dict[str, Any] | None = None,
) -> None:
    (directory / (BLESSED_FILE if verdict.blessed else NOT_BLESSED_FILE)).touch()
    _write_json(directory / BLESSING_FILE, {
        "blessed": verdict.blessed,
        "model_id": model_id,
        "baseline_model_id": baseline_id,
        "rubber_stamped": verdict.rubber_stamped,
        "message": verdict.message(),
        "failures": [f.to_json() for f in verdict.failures],
        "thresholds": thresholds,
        **({"judgements": judgements} if judgements is not None else {}),
    })


def metric_name(key: metrics_for_slice_pb2.MetricKey) -> str:
    """``name``, with the output name and sub key (class id, top k) when there are any."""
    name = f"{key.output_name}/{key.name}" if key.output_name else key.name
    if key.HasField("sub_key"):
        sub = key.sub_key
        if sub.HasField("class_id"):
            name += f"[class_id={sub.class_id.value}]"
        if sub.HasField("k"):
            name += f"[k={sub.k.value}]"
        if sub.HasField("top_k"):
            name += f"[top_k={sub.top_k.value}]"
    return name


def _failure(
    failure: validation_result_pb2.ValidationFailure, slice_: str,
    row: dict[str, dict[str, float]],
) -> Failure:
    name = metric_name(failure.metric_key)
    values = row.get(name, {})
    threshold = failure.metric_threshold
    actual = (
        _scalar(failure.metric_value) if failure.HasField("metric_value") else None
    )
    if actual is None:
        return Failure(kind="missing_metric", metric=name, slice=slice_,
                       detail=(failure.message.strip() or "metric not computed")
                       + f"; threshold {_threshold_text(threshold)}")
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        return Failure(
            kind="change", metric=name, slice=slice_,
            value=values.get("value"), baseline=values.get("baseline"), change=actual,
            bound=change.absolute.value if change.HasField("absolute") else None,
            direction=tfma.MetricDirection.Name(change.direction).lower(),
            detail=failure.message.strip(),
        )
    value = threshold.value_threshold
    lower = value.lower_bound.value if value.HasField("lower_bound") else None
    upper = value.upper_bound.value if value.HasField("upper_bound") else None
    below = lower is not None and not (actual >= lower)  # NaN fails either way
    return Failure(
        kind="lower" if below or upper is None else "upper", metric=name, slice=slice_,
        value=actual, bound=lower if below or upper is None else upper,
        baseline=values.get("baseline"), detail=failure.message.strip(),
    )


def _threshold_text(threshold: Any) -> str:
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(threshold), sort_keys=True)


def _scalar(value: Any) -> float | None:
    kind = value.WhichOneof("type")
    if kind == "double_value":
        return float(value.double_value.value)
    if kind == "bounded_value":
        return float(value.bounded_value.value.value)
    return None


def _num(value: float | None, signed: bool = False) -> str:
    """A measured value, to 4 significant digits."""
    if value is None:
        return "?"
    if math.isnan(value):
        return "NaN"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _bound(value: float | None, signed: bool = False) -> str:
    """A configured bound, exactly as written (0.9999 must not print as 1)."""
    if value is None:
        return "?"
    return f"{value:+.15g}" if signed else f"{value:.15g}"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    """NaN and infinities become null: strict JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
