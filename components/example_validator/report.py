"""The ExampleValidator's reports for a data engineer: ``report.txt`` and an offline
``report.html``.

The HTML page is one self-contained file: inline CSS, histograms drawn as inline SVG, no
scripts, fonts or images fetched from anywhere, so it opens from a laptop, an air-gapped
cluster or an Airflow log link alike.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

Severity = Literal["error", "warning"]
DATASET = "(dataset)"  # the pseudo-feature of dataset-level anomalies, e.g. too few examples
HTML_FILE = "report.html"
TEXT_FILE = "report.txt"
LOUD = "DRIFT NOT CHECKED"  # a note that starts so is shown as a warning banner


@dataclass(frozen=True)
class Finding:
    """One anomalous feature of one split."""

    split: str
    feature: str
    severity: Severity
    short: str  # e.g. "column dropped"
    description: str
    reasons: tuple[str, ...]  # TFDV reason codes, e.g. SCHEMA_MISSING_COLUMN
    advice: str = ""  # what to do about it

    def line(self) -> str:
        text = f"{self.split}/{self.feature}: {self.description} ({self.severity})"
        return f"{text} {self.advice}" if self.advice else text


@dataclass(frozen=True)
class Drift:
    feature: str
    measure: str  # L_INFTY or JENSEN_SHANNON_DIVERGENCE
    value: float
    threshold: float


@dataclass
class SplitResult:
    split: str
    statistics: statistics_pb2.DatasetFeatureStatistics
    anomalies: anomalies_pb2.Anomalies
    previous: statistics_pb2.DatasetFeatureStatistics | None = None
    notes: list[str] = field(default_factory=list)
    # Lockgate's own findings beside TFDV's (components/example_validator/gates.py).
    extra: list[Finding] = field(default_factory=list)
    # `lockgate accept-anomalies`: feature -> (reason codes accepted, who/why), for this split.
    accepted: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        found = [explained(f, self.statistics) for f in findings_of(self.split, self.anomalies)
                 ] + self.extra
        return [as_accepted(f, self.accepted) for f in found]

    @property
    def drift(self) -> list[Drift]:
        """TFDV's measurements against the previous span."""
        return self._measured("drift_measurements")

    @property
    def skew(self) -> list[Drift]:
        """TFDV's measurements against the skew split (``skew_split``, train by default)."""
        return self._measured("skew_measurements")

    def _measured(self, field_name: str) -> list[Drift]:
        measure = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name
        return [
            Drift(".".join(info.path.step), measure(m.type), m.value, m.threshold)
            for info in self.anomalies.drift_skew_info
            for m in getattr(info, field_name)
        ]


def as_accepted(finding: Finding, acceptance: dict[str, tuple[frozenset[str], str]]) -> Finding:
    """``finding`` as an accepted warning if a person accepted exactly these reason codes of
    its feature; a new reason, or another feature, still counts at its own severity."""
    codes, note = acceptance.get(finding.feature, (frozenset(), ""))
    if not finding.reasons or not set(finding.reasons) <= codes:
        return finding
    return dataclasses.replace(finding, severity="warning", short=f"ACCEPTED: {finding.short}",
                               advice=note)


def findings_of(split: str, anomalies: anomalies_pb2.Anomalies) -> list[Finding]:
    """TFDV's anomalies as findings, dataset-level first, then by feature name."""
    infos: list[tuple[str, anomalies_pb2.AnomalyInfo]] = []
    if anomalies.HasField("dataset_anomaly_info") and anomalies.dataset_anomaly_info.reason:
        infos.append((DATASET, anomalies.dataset_anomaly_info))
    infos += sorted(
        ((".".join(info.path.step) or key, info) for key, info in anomalies.anomaly_info.items()),
        key=lambda item: item[0],
    )
    result = []
    for feature, info in infos:
        # Per reason, not TFDV's merged fields: its merged short text of several reasons is
        # "Multiple errors", and its merged description runs the sentences together.
        shorts = [r.short_description for r in info.reason] or [info.short_description]
        short = "; ".join(dict.fromkeys(_lower_first(s) for s in shorts if s))
        longs = [r.description for r in info.reason] or [info.description]
        description = " ".join(
            d if d.endswith(".") else f"{d}." for d in dict.fromkeys(longs) if d
        )
        severity: Severity = "warning" if info.severity == info.WARNING else "error"
        result.append(Finding(
            split=split,
            feature=feature,
            severity=severity,
            short=short,
            description=description or short,
            reasons=tuple(anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason),
        ))
    return result


def _lower_first(text: str) -> str:
    """"Column dropped" -> "column dropped", to read well after a feature name; acronyms such
    as "NaN" keep their case."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


# What to do about each kind of finding (TFDV's reason codes and Lockgate's own).
ONE_CLASS = "LOCKGATE_LABEL_ONE_CLASS"
NAN_VALUES = "LOCKGATE_NAN_VALUES"
INF_VALUES = "LOCKGATE_INF_VALUES"

ADVICE = {
    "DATASET_LOW_NUM_EXAMPLES": "Too little data to train or judge a model on: wait for the "
    "rest of the span, or lower ExampleValidator's min_examples if this size is expected.",
    "COMPARATOR_L_INFTY_HIGH": "Check the feed for a change upstream; if the shift is real, "
    "accept it with `lockgate accept-anomalies CONFIG RUN --reason ...` or raise the threshold.",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": "Check the feed for a change upstream; if the "
    "shift is real, accept it with `lockgate accept-anomalies CONFIG RUN --reason ...` or "
    "raise the threshold.",
    "FLOAT_TYPE_HAS_NAN": "Fix the rows upstream, or allow NaN in the schema "
    "(float_domain { disallow_nan: false }) if the model handles them.",
    "FLOAT_TYPE_HAS_INF": "Fix the rows upstream, or allow infinities in the schema "
    "(float_domain { disallow_inf: false }) if the model handles them.",
    ONE_CLASS: "A model cannot learn from one class: check the label column for a broken "
    "join or a constant default value.",
    NAN_VALUES: "The schema allows NaN here; set float_domain { disallow_nan: true } to make "
    "them an error.",
    INF_VALUES: "The schema allows infinities here; set float_domain { disallow_inf: true } to "
    "make them an error.",
}


def explained(finding: Finding, stats: statistics_pb2.DatasetFeatureStatistics) -> Finding:
    """A TFDV finding with what to do, and the counts TFDV leaves out of its message."""
    advice = next((ADVICE[r] for r in finding.reasons if r in ADVICE), finding.advice)
    description = finding.description
    if "FLOAT_TYPE_HAS_NAN" in finding.reasons:
        nan, total = nan_count(feature_stats(stats, finding.feature))
        description += f" {nan:,} of {total:,} values are NaN."
    if "FLOAT_TYPE_HAS_INF" in finding.reasons:
        infinite, total = inf_count(feature_stats(stats, finding.feature))
        description += f" {infinite:,} of {total:,} values are infinite."
    return dataclasses.replace(finding, description=description, advice=advice)


def nan_count(stats: statistics_pb2.FeatureNameStatistics | None) -> tuple[int, int]:
    """(NaN values, all values) of a numeric feature, from TFDV's standard histogram."""
    if stats is None or not stats.HasField("num_stats"):
        return 0, 0
    histograms = stats.num_stats.histograms
    nan = max((int(h.num_nan) for h in histograms), default=0)
    return nan, int(stats.num_stats.common_stats.tot_num_values)


# --- statistics summaries -------------------------------------------------------------------


def feature_stats(
    dataset: statistics_pb2.DatasetFeatureStatistics | None, feature: str
) -> statistics_pb2.FeatureNameStatistics | None:
    if dataset is None:
        return None
    for stats in dataset.features:
        if _name(stats) == feature:
            return stats
    return None


def key_stats(
    stats: statistics_pb2.FeatureNameStatistics | None, num_examples: int
) -> dict[str, str]:
    """The few numbers that explain most anomalies: type, presence, range or top values."""
    if stats is None:
        return {"type": "absent", "present": "0 examples"}
    kind = statistics_pb2.FeatureNameStatistics.Type.Name(stats.type)
    common = _common(stats)
    present = common.num_non_missing
    share = present / num_examples if num_examples else 0.0
    out = {
        "type": kind,
        "present": f"{present:,} of {num_examples:,} ({share:.1%})",
        "values per example": _value_range(common),
    }
    if stats.HasField("num_stats"):
        num = stats.num_stats
        out.update({
            "mean": _num(num.mean), "std dev": _num(num.std_dev), "min": _num(num.min),
            "median": _num(num.median), "max": _num(num.max), "zeros": f"{num.num_zeros:,}",
        })
    elif stats.HasField("string_stats"):
        text = stats.string_stats
        out["unique"] = f"{text.unique:,}"
        out["top values"] = ", ".join(
            f"{_clip(v.value)} ({v.frequency:,.0f})" for v in text.top_values[:5]
        ) or "-"
    return out


def _common(stats: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    for kind in ("num_stats", "string_stats", "bytes_stats", "struct_stats"):
        if stats.HasField(kind):
            return getattr(stats, kind).common_stats
    return statistics_pb2.CommonStatistics()


def _value_range(common: statistics_pb2.CommonStatistics) -> str:
    low, high = common.min_num_values, common.max_num_values
    return str(low) if low == high else f"{low}-{high}"


def _name(stats: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(stats.path.step) or stats.name


def _num(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return str(value) if value else "0"
    if abs(value) >= 1e6 or abs(value) < 1e-3:
        return f"{value:.4g}"
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- text report ----------------------------------------------------------------------------


def render_text(title: str, verdict: str, results: list[SplitResult]) -> str:
    lines = [title, "=" * len(title), verdict, ""]
    for result in results:
        stats = result.statistics
        found = result.findings
        lines.append(f"split {result.split}: {stats.num_examples:,} examples, "
                     f"{len(found)} anomal{'y' if len(found) == 1 else 'ies'}")
        lines += [f"  note: {note}" for note in result.notes]
        for finding in found:
            lines.append(f"  [{finding.severity.upper():7}] {finding.feature}: {finding.short}")
            lines.append(f"            {finding.description}")
            if finding.advice:
                lines.append(f"            what to do: {finding.advice}")
            lines.append(f"            reason codes: {', '.join(finding.reasons) or '-'}")
            current = key_stats(feature_stats(stats, finding.feature), stats.num_examples)
            if finding.feature != DATASET:
                previous = (
                    key_stats(feature_stats(result.previous, finding.feature),
                              result.previous.num_examples)
                    if result.previous is not None else {}
                )
                for key, value in current.items():
                    before = f"   (previous span: {previous[key]})" if key in previous else ""
                    lines.append(f"              {key}: {value}{before}")
        for kind, measured in (("drift", result.drift), ("skew", result.skew)):
            for m in measured:
                flag = kind.upper() if m.value > m.threshold else "ok"
                lines.append(f"  {kind} {m.feature}: {m.measure} {m.value:.4f} "
                             f"(threshold {m.threshold:g}) {flag}")
        lines.append("")
    return "\n".join(lines)


# --- HTML report ----------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { margin-top: 1.5em; }
.meta { color: #666; }
.verdict { padding: .7em 1em; border-radius: 4px; font-weight: 600; }
.verdict.halted { background: #fde8e8; border: 1px solid #e02424; }
.verdict.passed { background: #e7f6ec; border: 1px solid #2f855a; }
table { border-collapse: collapse; margin: .6em 0; width: 100%; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sev { font-weight: 700; padding: 0 .4em; border-radius: 3px; color: #fff; }
.sev.error { background: #c81e1e; } .sev.warning { background: #b7791f; }
code { font-size: .92em; background: #f4f4f4; padding: 0 .2em; }
.bar { background: #4a7bd0; height: .8em; display: inline-block; vertical-align: middle; }
.note { color: #555; font-style: italic; }
.note.loud { color: #7b341e; background: #fffaf0; border: 1px solid #dd6b20; padding: .5em 1em;
             font-style: normal; font-weight: 600; }
svg rect { fill: #4a7bd0; } svg rect.prev { fill: #bbb; }
"""


def render_html(title: str, verdict: str, halted: bool, results: list[SplitResult]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="verdict {"halted" if halted else "passed"}">{e(verdict)}</p>',
        "<table><tr><th>split</th><th>examples</th><th>anomalies</th><th>errors</th>"
        "<th>warnings</th><th>drift checked</th></tr>",
    ]
    for result in results:
        found = result.findings
        errors = sum(f.severity == "error" for f in found)
        parts.append(
            f'<tr><td><a href="#split-{e(result.split)}">{e(result.split)}</a></td>'
            f'<td class="num">{result.statistics.num_examples:,}</td>'
            f'<td class="num">{len(found)}</td><td class="num">{errors}</td>'
            f'<td class="num">{len(found) - errors}</td>'
            f"<td>{'yes' if result.drift else 'no'}</td></tr>"
        )
    parts.append("</table>")
    for result in results:
        parts += _split_section(result)
    parts.append("</body></html>")
    return "\n".join(parts)


def _split_section(result: SplitResult) -> list[str]:
    e = html.escape
    stats = result.statistics
    found = result.findings
    parts = [f'<h2 id="split-{e(result.split)}">Split {e(result.split)}</h2>',
             f'<p class="meta">{stats.num_examples:,} examples, {len(stats.features)} features'
             f"{', compared with the previous span' if result.previous is not None else ''}</p>"]
    parts += [f'<p class="note{" loud" if note.startswith(LOUD) else ""}">'
              f"{e(note)}</p>" for note in result.notes]
    if found:
        parts.append("<h3>Anomalies</h3><table><tr><th>feature</th><th>severity</th>"
                     "<th>anomaly</th><th>description</th><th>reason codes</th></tr>")
        for f in found:
            parts.append(
                f"<tr><td><code>{e(f.feature)}</code></td>"
                f'<td><span class="sev {f.severity}">{f.severity.upper()}</span></td>'
                f"<td>{e(f.short)}</td><td>{e(f.description)}"
                + (f"<br><b>What to do:</b> {e(f.advice)}" if f.advice else "") + "</td>"
                f"<td>{'<br>'.join(f'<code>{e(r)}</code>' for r in f.reasons)}</td></tr>"
            )
        parts.append("</table>")
        affected = [f.feature for f in found if f.feature != DATASET]
        if affected:
            parts.append("<h3>Key statistics of the affected features</h3>")
            for feature in dict.fromkeys(affected):
                parts += _affected_feature(result, feature)
    else:
        parts.append("<p>No anomalies: every feature matches the schema.</p>")
    for title, measured, verdict in (
        ("Drift against the previous span", result.drift, "drifted"),
        ("Train/eval skew: this split against the skew split", result.skew, "skewed"),
    ):
        if not measured:
            continue
        parts.append(f"<h3>{title}</h3><table><tr><th>feature</th>"
                     "<th>measure</th><th>value</th><th>threshold</th><th></th></tr>")
        for d in measured:
            over = d.value > d.threshold
            parts.append(
                f"<tr><td><code>{e(d.feature)}</code></td><td>{e(d.measure)}</td>"
                f'<td class="num">{d.value:.4f}</td><td class="num">{d.threshold:g}</td>'
                f"<td>{f'<b>{verdict}</b>' if over else 'ok'}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h3>All features</h3><table><tr><th>feature</th><th>type</th>"
                 "<th>present</th><th>mean / unique</th><th>min</th><th>median</th><th>max</th>"
                 "<th>distribution</th></tr>")
    for feature in sorted(stats.features, key=_name):
        parts.append(_feature_row(feature, stats.num_examples))
    parts.append("</table>")
    return parts


def _affected_feature(result: SplitResult, feature: str) -> list[str]:
    e = html.escape
    current_stats = feature_stats(result.statistics, feature)
    previous_stats = feature_stats(result.previous, feature)
    current = key_stats(current_stats, result.statistics.num_examples)
    previous = (key_stats(previous_stats, result.previous.num_examples)
                if result.previous is not None else None)
    header = "<th>this span</th>" + ("<th>previous span</th>" if previous is not None else "")
    rows = [f"<h4><code>{e(feature)}</code></h4><table><tr><th></th>{header}</tr>"]
    for key in dict.fromkeys([*current, *(previous or {})]):
        before = f"<td>{e(previous.get(key, '-'))}</td>" if previous is not None else ""
        rows.append(f"<tr><th>{e(key)}</th><td>{e(current.get(key, '-'))}</td>{before}</tr>")
    rows.append("</table>")
    chart = _distribution(current_stats, previous_stats)
    if chart:
        rows.append(f"<p>{chart}</p>")
    return rows


def _feature_row(stats: statistics_pb2.FeatureNameStatistics, num_examples: int) -> str:
    e = html.escape
    summary = key_stats(stats, num_examples)
    if stats.HasField("num_stats"):
        middle = [summary["mean"], summary["min"], summary["median"], summary["max"]]
    else:
        middle = [summary.get("unique", "-"), "-", "-", "-"]
    cells = "".join(f'<td class="num">{e(v)}</td>' for v in middle)
    return (f"<tr><td><code>{e(_name(stats))}</code></td><td>{e(summary['type'])}</td>"
            f"<td>{e(summary['present'])}</td>{cells}"
            f"<td>{_distribution(stats, None)}</td></tr>")


def _distribution(
    current: statistics_pb2.FeatureNameStatistics | None,
    previous: statistics_pb2.FeatureNameStatistics | None,
) -> str:
    if current is None:
        return ""
    if current.HasField("num_stats"):
        return _histogram_svg(current, previous)
    if current.HasField("string_stats"):
        return _top_values(current)
    return ""


def _standard_histogram(
    stats: statistics_pb2.FeatureNameStatistics | None,
) -> statistics_pb2.Histogram | None:
    if stats is None or not stats.HasField("num_stats"):
        return None
    for histogram in stats.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.STANDARD and histogram.buckets:
            return histogram
    return None


def _histogram_svg(
    current: statistics_pb2.FeatureNameStatistics,
    previous: statistics_pb2.FeatureNameStatistics | None,
    width: int = 220,
    height: int = 48,
) -> str:
    """Bars of the current span's histogram; the previous span's in grey behind, as shares so
    spans of different sizes compare."""
    histogram = _standard_histogram(current)
    if histogram is None:
        return ""
    series: list[tuple[str, list[tuple[float, float, float]]]] = [
        ("prev", _shares(_standard_histogram(previous))), ("", _shares(histogram))
    ]
    low = min(b[0] for _, buckets in series for b in buckets)
    high = max(b[1] for _, buckets in series for b in buckets)
    tallest = max((b[2] for _, buckets in series for b in buckets), default=0.0) or 1.0
    span = (high - low) or 1.0
    shapes = []
    for css, buckets in series:
        for start, end, share in buckets:
            x = (start - low) / span * width
            w = max((end - start) / span * width - 1, 1)
            h = share / tallest * (height - 2)
            tip = f"{_num(start)} to {_num(end)}: {share:.1%}"
            cls = f' class="{css}"' if css else ""
            shapes.append(
                f'<rect{cls} x="{x:.1f}" '
                f'y="{height - h:.1f}" width="{w:.1f}" height="{h:.1f}">'
                f"<title>{html.escape(tip)}</title></rect>"
            )
    label = f"{_num(low)} … {_num(high)}"
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="histogram">'
            + "".join(shapes) + f"</svg><br><small>{html.escape(label)}</small>")


def _shares(histogram: statistics_pb2.Histogram | None) -> list[tuple[float, float, float]]:
    if histogram is None:
        return []
    finite = [b for b in histogram.buckets if math.isfinite(b.low_value + b.high_value)]
    total = sum(b.sample_count for b in finite) or 1.0
    return [(b.low_value, b.high_value, b.sample_count / total) for b in finite]


def _top_values(stats: statistics_pb2.FeatureNameStatistics, limit: int = 5) -> str:
    values = list(stats.string_stats.top_values[:limit])
    if not values:
        return ""
    total = _common(stats).tot_num_values or sum(v.frequency for v in values) or 1
    rows = []
    for v in values:
        share = v.frequency / total
        rows.append(f'<span class="bar" style="width:{share * 8:.2f}em"></span> '
                    f"<code>{html.escape(_clip(v.value, 24))}</code> {share:.1%}")
    return "<br>".join(rows)


def write_reports(
    directory: Path, title: str, verdict: str, halted: bool, results: Iterable[SplitResult]
) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.txt`` into ``directory``; returns their paths."""
    results = list(results)
    html_path, text_path = directory / HTML_FILE, directory / TEXT_FILE
    html_path.write_text(render_html(title, verdict, halted, results), encoding="utf-8")
    text_path.write_text(render_text(title, verdict, results), encoding="utf-8")
    return html_path, text_path


def inf_count(stats: statistics_pb2.FeatureNameStatistics | None) -> tuple[int, int]:
    """(infinite values, all values) of a numeric feature. TFDV's standard histogram keeps
    -inf and +inf apart as point buckets; when no value is finite it has one bucket, from +inf
    down to -inf (its untouched finite bounds), holding every value that is not NaN."""
    if stats is None or not stats.HasField("num_stats"):
        return 0, 0
    total = int(stats.num_stats.common_stats.tot_num_values)
    standard = [h for h in stats.num_stats.histograms
                if h.type == statistics_pb2.Histogram.STANDARD]
    infinite = 0.0
    for bucket in standard[0].buckets if standard else []:
        if math.isinf(bucket.low_value) and math.isinf(bucket.high_value):
            infinite += bucket.sample_count
    return round(infinite), total
