"""The evaluation page: TFMA's slicing view, offline.

Read from the ModelEvaluation (TFMA's output directory) and its ModelBlessing's
``blessing.json``: overall and per-slice metrics in one table sortable by any metric,
candidate beside baseline with the difference; every configured threshold, per slice it
applies to, passed or failed (TFMA's ValidationResult decides); the plots TFMA computed
(multi-class confusion matrix, micro-averaged ROC and precision/recall from its binary
confusion matrices, calibration) as inline SVG; and slices too small to trust, flagged.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.component import Artifact
from pipelines.reports.html import (
    SERIES,
    SORT_SCRIPT,
    esc,
    num,
    num_cell,
    page,
    signed,
    table,
)

OVERALL = "overall"
CANDIDATE, BASELINE = "candidate", "baseline"
BLESSING_FILE = "blessing.json"
# A slice with fewer eval examples than this is flagged: its metrics move by whole percents
# when one example changes, too noisy to judge a model on.
MIN_SLICE_EXAMPLES = 50


@dataclass
class SlicePlots:
    """TFMA's plots of one slice, per model (candidate, baseline)."""

    confusion: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    curves: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # per threshold
    # per bucket: (lower bound, examples, sum of labels, sum of predictions)
    calibration: dict[str, list[tuple[float, float, float, float]]] = field(
        default_factory=dict)


@dataclass
class EvalPage:
    """What the evaluation page is made from; the tests read it as well as the HTML."""

    # slice -> metric -> {"value", "baseline", "change"}
    metrics: dict[str, dict[str, dict[str, float]]]
    plots: dict[str, SlicePlots]
    blessing: dict[str, Any]
    thresholds: list[dict[str, Any]]  # one row per (metric, slice, kind)
    validation_ok: bool | None = None


def build(evaluation: Artifact, blessing: Artifact | None) -> EvalPage:
    import tensorflow_model_analysis as tfma

    uri = evaluation.uri
    metrics = _metrics(tfma.load_metrics(uri))
    plots = _plots(tfma.load_plots(uri))
    blessing_json: dict[str, Any] = {}
    if blessing is not None and (Path(blessing.uri) / BLESSING_FILE).is_file():
        blessing_json = json.loads((Path(blessing.uri) / BLESSING_FILE).read_text())
    try:
        validation_ok: bool | None = bool(tfma.load_validation_result(uri).validation_ok)
    except Exception:  # no validations file: TFMA ran no threshold
        validation_ok = None
    return EvalPage(metrics=metrics, plots=plots, blessing=blessing_json,
                    thresholds=_threshold_rows(blessing_json, metrics),
                    validation_ok=validation_ok)


def _slice_name(slice_key: Any) -> str:
    import tensorflow_model_analysis as tfma

    parts = []
    for column, value in tfma.slicer.deserialize_slice_key(slice_key):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        parts.append(f"{column}={text}")
    return ",".join(parts) or OVERALL


def _metric_name(key: Any) -> str:
    """As the Evaluator's summary.json names metrics: output, name and sub key."""
    name = f"{key.output_name}/{key.name}" if key.output_name else key.name
    if key.HasField("sub_key"):
        sub = key.sub_key
        for part in ("class_id", "k", "top_k"):
            if sub.HasField(part):
                name += f"[{part}={getattr(sub, part).value}]"
    return str(name)


def _model(key: Any) -> str:
    return str(key.model_name) or CANDIDATE


def _metrics(records: Any) -> dict[str, dict[str, dict[str, float]]]:
    table_: dict[str, dict[str, dict[str, float]]] = {}
    for record in records:
        row = table_.setdefault(_slice_name(record.slice_key), {})
        for entry in record.metric_keys_and_values:
            kind = entry.value.WhichOneof("type")
            if kind == "double_value":
                value = float(entry.value.double_value.value)
            elif kind == "bounded_value":
                value = float(entry.value.bounded_value.value.value)
            else:
                continue
            column = ("change" if entry.key.is_diff else
                      "baseline" if _model(entry.key) == BASELINE else "value")
            row.setdefault(_metric_name(entry.key), {})[column] = value
    return dict(sorted(table_.items(), key=lambda kv: (kv[0] != OVERALL, kv[0])))


def _plots(records: Any) -> dict[str, SlicePlots]:
    found: dict[str, SlicePlots] = {}
    for record in records:
        plots = found.setdefault(_slice_name(record.slice_key), SlicePlots())
        for entry in record.plot_keys_and_values:
            model, value = _model(entry.key), entry.value
            if value.HasField("multi_class_confusion_matrix_at_thresholds"):
                matrices = value.multi_class_confusion_matrix_at_thresholds.matrices
                if matrices:
                    plots.confusion[model] = [
                        (e.actual_class_id, e.predicted_class_id, e.num_weighted_examples)
                        for e in matrices[0].entries]
            if value.HasField("confusion_matrix_at_thresholds"):
                plots.curves[model] = [
                    {"threshold": m.threshold, "tp": m.true_positives, "fp": m.false_positives,
                     "tn": m.true_negatives, "fn": m.false_negatives,
                     "precision": m.precision, "recall": m.recall}
                    for m in value.confusion_matrix_at_thresholds.matrices]
            if value.HasField("calibration_histogram_buckets"):
                plots.calibration[model] = [
                    (b.lower_threshold_inclusive, b.num_weighted_examples.value,
                     b.total_weighted_label.value, b.total_weighted_refined_prediction.value)
                    for b in value.calibration_histogram_buckets.buckets]
    return found


def _key_name(class_name: str) -> str:
    """The result key TFMA gives a metric class, e.g. SparseCategoricalAccuracy ->
    sparse_categorical_accuracy."""
    try:
        import tensorflow_model_analysis as tfma
        from tensorflow_model_analysis.metrics import metric_specs

        return str(metric_specs.metric_instance(tfma.MetricConfig(class_name=class_name)).name)
    except Exception:  # a custom metric whose module is not importable here
        return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


def _threshold_rows(blessing: dict[str, Any], metrics: dict[str, dict[str, dict[str, float]]]
                    ) -> list[dict[str, Any]]:
    """Each configured threshold on each slice it applies to, with TFMA's pass or fail."""
    failures = blessing.get("failures", [])
    has_baseline = blessing.get("baseline_model_id") is not None
    rows = []
    for threshold in blessing.get("thresholds", []):
        key = _key_name(threshold["metric"])
        slices = [OVERALL] + [
            name for name in metrics
            for keys in threshold.get("slices") or [] if keys and _in_slice(name, keys)]
        for slice_ in dict.fromkeys(slices):
            values = metrics.get(slice_, {}).get(key, {})
            checks = [("lower", threshold.get("lower")), ("upper", threshold.get("upper"))]
            if threshold.get("change"):
                checks.append(("change", threshold["change"]))
            for kind, bound in checks:
                if bound is None:
                    continue
                failed = any(f.get("slice") == slice_ and f.get("kind") == kind
                             and (f.get("metric") == key or str(f.get("metric")).endswith(
                                 f"/{key}")) and not f.get("reference") for f in failures)
                if kind == "change":
                    status = ("fail" if failed else "pass") if has_baseline else "not applied"
                    text = (f"{bound['direction'].replace('_', ' ')}, may move "
                            f"{bound.get('absolute', 0):+.15g}")
                else:
                    status = "fail" if failed else "pass"
                    text = f"{'≥' if kind == 'lower' else '≤'} {bound:.15g}"
                rows.append({"metric": key, "slice": slice_, "kind": kind, "threshold": text,
                             "value": values.get("value"), "baseline": values.get("baseline"),
                             "change": values.get("change"), "status": status})
    for failure in failures:
        if failure.get("kind") in ("missing_slice", "missing_metric", "other", "disagreement"):
            rows.append({"metric": failure.get("metric", ""), "slice": failure.get("slice", ""),
                         "kind": failure["kind"], "threshold": failure.get("message", ""),
                         "value": failure.get("value"), "baseline": failure.get("baseline"),
                         "change": failure.get("change"), "status": "fail"})
    return rows


def _in_slice(name: str, keys: list[str]) -> bool:
    columns = [part.split("=", 1)[0] for part in name.split(",")] if name != OVERALL else []
    return sorted(columns) == sorted(keys)


def examples_in(data: EvalPage, slice_: str) -> float | None:
    """The slice's example count: TFMA's example_count, else its confusion matrix total."""
    count = data.metrics.get(slice_, {}).get("example_count", {}).get("value")
    if count is None and slice_ in data.plots:
        confusion = data.plots[slice_].confusion.get(CANDIDATE)
        if confusion:
            count = sum(c for _, _, c in confusion)
    return count


# --- rendering -------------------------------------------------------------------------------


def render(data: EvalPage, title: str, subtitle: str) -> str:
    blessing = data.blessing
    body = []
    if blessing:
        verdict = ('<span class="pass" id="verdict">BLESSED</span>' if blessing.get("blessed")
                   else '<span class="fail" id="verdict">NOT BLESSED</span>')
        baseline = blessing.get("baseline_model_id")
        body.append(
            f'<div class="card">{verdict} — candidate model {esc(blessing.get("model_id"))}, '
            + (f"baseline model {esc(baseline)}" if baseline is not None
               else "no baseline (first blessing: change thresholds not applied)")
            + (f'<div>{esc(blessing["message"])}</div>' if blessing.get("message", "blessed")
               != "blessed" else "") + "</div>")
    body.append(_thresholds(data))
    body.append(_metric_table(data))
    if blessing.get("judgements"):
        body.append(_judgements(blessing["judgements"]))
    body.append('<h2>Plots</h2><p class="muted">As TFMA computed them. For a model that scores '
                "several classes, ROC, precision/recall and calibration are micro-averaged over "
                "the classes. The AUC is the area under TFMA's ROC points.</p>")
    ordered = sorted(data.plots.items(), key=lambda kv: (kv[0] != OVERALL, kv[0]))
    for i, (slice_, plots) in enumerate(ordered):
        drawn = _slice_plots(plots)
        if not drawn:
            continue
        few = _few(data, slice_)
        summary = f"{esc(slice_)}{few}"
        body.append(f'<details class="slice-plots" data-slice="{esc(slice_)}"'
                    f'{" open" if i == 0 else ""}><summary>{summary}</summary>'
                    f'<div class="plots">{drawn}</div></details>')
    return page(title, subtitle, "".join(body), script=SORT_SCRIPT)


def _few(data: EvalPage, slice_: str) -> str:
    count = examples_in(data, slice_)
    if count is not None and count < MIN_SLICE_EXAMPLES:
        return (f' <span class="flag few">few examples: {num(count)} &lt; '
                f"{MIN_SLICE_EXAMPLES}</span>")
    return ""


def _thresholds(data: EvalPage) -> str:
    if not data.thresholds:
        return "<h2>Thresholds</h2><p class=\"muted\">No threshold was configured.</p>"
    rows = []
    for r in data.thresholds:
        cls = {"pass": "pass", "fail": "fail"}.get(r["status"], "muted")
        rows.append((esc(r["metric"]), esc(r["slice"]), esc(r["kind"]), esc(r["threshold"]),
                     num_cell(r["value"]), num_cell(r["baseline"]),
                     f'<td class="num">{signed(r["change"])}</td>',
                     f'<td class="{cls} status" data-status="{esc(r["status"])}">'
                     f'{esc(r["status"].upper())}</td>'))
    return "<h2>Thresholds</h2>" + table(
        ["metric", "slice", "check", "threshold", "candidate", "baseline", "diff", "result"],
        rows, table_id="thresholds")


def _metric_table(data: EvalPage) -> str:
    names = list(dict.fromkeys(m for row in data.metrics.values() for m in row))
    with_baseline = any("baseline" in v for row in data.metrics.values() for v in row.values())
    headers = ["slice", "examples"]
    for name in names:
        headers.append(esc(name))
        if with_baseline:
            headers += [f"{esc(name)} baseline", f"{esc(name)} diff"]
    rows = []
    for slice_, row in data.metrics.items():
        count = examples_in(data, slice_)
        cells = [f'<td class="slice" data-slice="{esc(slice_)}">{esc(slice_)}'
                 f"{_few(data, slice_)}</td>", num_cell(count)]
        for name in names:
            values = row.get(name, {})
            cells.append(num_cell(values.get("value")))
            if with_baseline:
                change = values.get("change")
                cls = "" if change is None or change == 0 else (
                    "pass" if change > 0 else "fail")
                cells.append(num_cell(values.get("baseline")))
                sort_key = "" if change is None else change
                cells.append(f'<td class="num {cls}" data-v="{sort_key}">{signed(change)}</td>')
        rows.append(cells)
    return ("<h2>Metrics by slice</h2><p class=\"muted\">Click a column to sort. diff is "
            "candidate − baseline.</p><div style=\"overflow-x:auto\">"
            + table(headers, rows, sortable=True, table_id="metrics") + "</div>")


def _judgements(judgements: dict[str, Any]) -> str:
    rows = []
    for name, j in judgements.items():
        if "blessed" in j:
            result = "pass" if j["blessed"] else "fail"
        elif "agree" in j:
            result = "pass" if j["agree"] else "fail"
        else:
            result = "not checked"
        detail = j.get("data") or j.get("reason") or (
            f"tolerance {j.get('tolerance')}" if "tolerance" in j else "")
        cls = {"pass": "pass", "fail": "fail"}.get(result, "muted")
        rows.append((esc(name), esc(detail), f'<td class="{cls}">{esc(result.upper())}</td>'))
    return "<h2>Judgements</h2>" + table(["judgement", "on", "result"], rows)


def _slice_plots(plots: SlicePlots) -> str:
    out = []
    for model, entries in plots.confusion.items():
        out.append(_confusion_svg(model, entries))
    if plots.curves:
        roc, pr = [], []
        for i, (model, matrices) in enumerate(plots.curves.items()):
            colour = SERIES[i % len(SERIES)]
            roc_points = sorted({(_ratio(m["fp"], m["fp"] + m["tn"]),
                                  _ratio(m["tp"], m["tp"] + m["fn"])) for m in matrices})
            pr_points = sorted({(m["recall"], m["precision"]) for m in matrices
                                if m["tp"] + m["fp"] > 0})
            roc.append((f"{model} (AUC {_auc(roc_points):.3f})", colour, roc_points))
            pr.append((model, colour, pr_points))
        out.append(_xy_svg("ROC", roc, "false positive rate",
                           "true positive rate", "roc", diagonal=True))
        out.append(_xy_svg("Precision / recall", pr, "recall", "precision",
                           "pr"))
    if plots.calibration:
        series = []
        for i, (model, buckets) in enumerate(plots.calibration.items()):
            series.append((model, SERIES[i % len(SERIES)], _calibration_points(buckets)))
        out.append(_xy_svg("Calibration", series, "mean prediction",
                           "mean label", "calibration", diagonal=True, dots=True))
    return "".join(out)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _auc(points: list[tuple[float, float]]) -> float:
    pts = [(0.0, 0.0), *points, (1.0, 1.0)]
    pts.sort()
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(pts))


def _calibration_points(buckets: list[tuple[float, float, float, float]], bins: int = 10
                        ) -> list[tuple[float, float]]:
    """TFMA's ~1,000 fine buckets gathered into ``bins`` of equal prediction width."""
    sums = [[0.0, 0.0, 0.0] for _ in range(bins)]
    for low, count, labels, predictions in buckets:
        if count <= 0 or not math.isfinite(low):
            continue
        index = min(max(int(low * bins), 0), bins - 1)
        sums[index][0] += count
        sums[index][1] += labels
        sums[index][2] += predictions
    return [(p / n, lab / n) for n, lab, p in sums if n > 0]


def _confusion_svg(model: str, entries: list[tuple[int, int, float]]) -> str:
    classes = sorted({a for a, _, _ in entries} | {p for _, p, _ in entries})
    if not classes:
        return ""
    cell, pad = 46, 70
    size = pad + cell * len(classes) + 10
    counts = {(a, p): c for a, p, c in entries}
    top = max(counts.values()) or 1.0
    parts = [f'<svg class="plot confusion" data-model="{esc(model)}" width="{size}" '
             f'height="{size + 20}" role="img"><text x="{size / 2:.0f}" y="14" '
             f'text-anchor="middle" font-size="13" font-weight="600">Confusion matrix — '
             f'{esc(model)}</text>',
             f'<text x="{pad + cell * len(classes) / 2:.0f}" y="34" text-anchor="middle" '
             'font-size="11">predicted class</text>',
             f'<text x="14" y="{pad + cell * len(classes) / 2:.0f}" font-size="11" '
             f'text-anchor="middle" transform="rotate(-90 14 {pad + cell * len(classes) / 2:.0f})"'
             '>actual class</text>']
    for j, predicted in enumerate(classes):
        label = "none" if predicted < 0 else str(predicted)
        parts.append(f'<text x="{pad + j * cell + cell / 2}" y="{pad - 6}" text-anchor="middle" '
                     f'font-size="11">{esc(label)}</text>')
    for i, actual in enumerate(classes):
        parts.append(f'<text x="{pad - 8}" y="{pad + i * cell + cell / 2 + 4}" '
                     f'text-anchor="end" font-size="11">{esc(actual)}</text>')
        for j, predicted in enumerate(classes):
            count = counts.get((actual, predicted), 0.0)
            shade = count / top
            fill = (f"rgba(31,119,180,{0.1 + 0.85 * shade:.2f})" if actual == predicted
                    else f"rgba(214,39,40,{0.08 + 0.8 * shade:.2f})" if count else "#f4f5f7")
            colour = "#fff" if shade > 0.55 else "#1d2430"
            x, y = pad + j * cell, pad + i * cell
            parts.append(f'<rect class="cm-cell" data-actual="{actual}" data-predicted="'
                         f'{predicted}" data-count="{count:g}" x="{x}" y="{y}" width="{cell - 2}"'
                         f' height="{cell - 2}" fill="{fill}"/><text x="{x + cell / 2 - 1}" '
                         f'y="{y + cell / 2 + 4}" text-anchor="middle" font-size="12" '
                         f'fill="{colour}">{num(count)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _xy_svg(title: str, series: list[tuple[str, str, list[tuple[float, float]]]], xlabel: str,
            ylabel: str, kind: str, diagonal: bool = False, dots: bool = False) -> str:
    """A unit-square chart, one polyline (or dots) per model."""
    w, h, left, bottom, top_pad = 300, 280, 44, 40, 24
    pw, ph = w - left - 12, h - bottom - top_pad

    def px(x: float) -> float:
        return left + max(0.0, min(1.0, x)) * pw

    def py(y: float) -> float:
        return top_pad + (1 - max(0.0, min(1.0, y))) * ph

    parts = [f'<svg class="plot {esc(kind)}" width="{w}" height="{h + 18 * len(series)}" '
             f'role="img"><text x="{w / 2:.0f}" y="15" text-anchor="middle" font-size="13" '
             f'font-weight="600">{esc(title)}</text>',
             f'<rect x="{left}" y="{top_pad}" width="{pw}" height="{ph}" fill="#fff" '
             'stroke="#56606c"/>']
    for tick in (0, 0.5, 1):
        parts.append(f'<text x="{px(tick):.0f}" y="{top_pad + ph + 14}" font-size="10" '
                     f'text-anchor="middle">{tick:g}</text><text x="{left - 5}" '
                     f'y="{py(tick) + 3:.0f}" font-size="10" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{left + pw / 2:.0f}" y="{top_pad + ph + 30}" font-size="11" '
                 f'text-anchor="middle">{esc(xlabel)}</text><text x="12" y="{top_pad + ph / 2:.0f}"'
                 f' font-size="11" text-anchor="middle" transform="rotate(-90 12 '
                 f'{top_pad + ph / 2:.0f})">{esc(ylabel)}</text>')
    if diagonal:
        parts.append(f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" '
                     'stroke="#b0b6be" stroke-dasharray="4 3"/>')
    for i, (label, colour, points) in enumerate(series):
        if dots:
            parts += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}" '
                      f'fill-opacity="0.8"><title>{esc(label)}: {x:.3f} → {y:.3f}</title>'
                      "</circle>" for x, y in points]
        elif points:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
            dash = ' stroke-dasharray="6 3"' if i else ""
            parts.append(f'<polyline class="curve" data-model="{esc(label)}" points="{path}" '
                         f'fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<rect x="{left}" y="{h + 18 * i - 2}" width="12" height="10" '
                     f'fill="{colour}"/><text x="{left + 18}" y="{h + 18 * i + 7}" '
                     f'font-size="11">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
