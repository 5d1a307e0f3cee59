"""The statistics page: what a data engineer reads in Facets Overview, offline.

Per feature and split: counts, missing, mean, std, zeros, min/median/max and quantiles, a
histogram of every split overlaid (and of the previous span's, when the run compared with
one) with a log-scale toggle; for categorical features the unique count and the top values
as bars. Features sort by name, missing share, skew or drift and filter by name (a link may
preset them: ``#sort=skew&filter=mass&log=1``). Train/eval skew is TFDV's own skew comparator
(``skew_comparator`` set on a copy of the run's schema, then
``tfdv.validate_statistics(train, schema, serving_statistics=eval)``), and drift the drift
comparator against the previous span, so the numbers are TFDV's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import layout
from pipelines.component import Artifact
from pipelines.reports.html import (
    SERIES,
    esc,
    num,
    num_cell,
    page,
    pct,
    table,
)

# The comparators' thresholds. The page shows every measured value; these only colour them.
SKEW_JSD = 0.1  # numeric features: Jensen-Shannon divergence
SKEW_LINF = 0.1  # categorical features: L-infinity distance of the value frequencies
DRIFT_JSD = 0.1
DRIFT_LINF = 0.1
TOP_K = 10
EMPTY = '<span class="empty">(empty string)</span>'


@dataclass
class Comparison:
    """One comparator's measure of one feature."""

    measure: str  # JENSEN_SHANNON_DIVERGENCE or L_INFTY
    value: float
    threshold: float

    @property
    def over(self) -> bool:
        return not self.value <= self.threshold


@dataclass
class StatsPage:
    """What the statistics page is made from; the tests read it as well as the HTML."""

    splits: dict[str, Any]  # split -> DatasetFeatureStatistics
    previous: dict[str, Any] = field(default_factory=dict)
    skew: dict[str, Comparison] = field(default_factory=dict)  # feature -> train vs eval
    drift: dict[str, Comparison] = field(default_factory=dict)  # feature -> vs previous span
    skew_pair: tuple[str, str] | None = None
    previous_span: int | None = None


def load_split_stats(artifact: Artifact) -> dict[str, Any]:
    """Split -> the split's DatasetFeatureStatistics, from ``Split-<split>/FeatureStats.pb``."""
    import tensorflow_data_validation as tfdv

    found = {}
    for split in layout.split_names(artifact):
        path = layout.split_dir(artifact, split) / layout.STATS_FILE
        if path.is_file():
            stats = tfdv.load_stats_binary(str(path))
            if stats.datasets:
                found[split] = stats.datasets[0]
    return found


def build(statistics: Artifact, schema: Artifact | None,
          previous: Artifact | None) -> StatsPage:
    """Load the statistics and run TFDV's skew and drift comparators on them."""
    splits = load_split_stats(statistics)
    result = StatsPage(splits=splits)
    if not splits:
        return result
    schema_proto = _schema(schema, next(iter(splits.values())))
    pair = _skew_pair(list(splits))
    if pair is not None:
        result.skew_pair = pair
        result.skew = _compare(schema_proto, splits[pair[0]], serving=splits[pair[1]])
    if previous is not None:
        result.previous = load_split_stats(previous)
        span = previous.properties.get("span")
        result.previous_span = int(span) if span is not None else None
        base = pair[0] if pair else next(iter(splits))
        if base in result.previous:
            result.drift = _compare(schema_proto, splits[base], previous=result.previous[base])
    return result


def _skew_pair(splits: list[str]) -> tuple[str, str] | None:
    if "train" in splits and "eval" in splits:
        return "train", "eval"
    return (splits[0], splits[1]) if len(splits) > 1 else None


def _schema(artifact: Artifact | None, first: Any) -> Any:
    """The run's schema, or one TFDV infers from the first split when there is none."""
    import tensorflow_data_validation as tfdv
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    if artifact is not None and (Path(artifact.uri) / layout.SCHEMA_FILE).is_file():
        text = (Path(artifact.uri) / layout.SCHEMA_FILE).read_text()
        return text_format.Parse(text, schema_pb2.Schema())
    return tfdv.infer_schema(statistics_pb2.DatasetFeatureStatisticsList(datasets=[first]))


def _compare(schema: Any, stats: Any, serving: Any = None, previous: Any = None
             ) -> dict[str, Comparison]:
    """TFDV's skew (``serving``) or drift (``previous``) comparator on every feature."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

    copy = schema_pb2.Schema()
    copy.CopyFrom(schema)
    categorical = {_name(f) for f in stats.features if f.HasField("string_stats")}
    for feature in copy.feature:
        comparator = feature.skew_comparator if serving is not None else feature.drift_comparator
        if feature.name in categorical:
            comparator.infinity_norm.threshold = SKEW_LINF if serving is not None else DRIFT_LINF
        else:
            comparator.jensen_shannon_divergence.threshold = (
                SKEW_JSD if serving is not None else DRIFT_JSD)

    def wrap(dataset: Any) -> Any:
        return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])

    anomalies = tfdv.validate_statistics(
        wrap(stats), copy,
        serving_statistics=wrap(serving) if serving is not None else None,
        previous_statistics=wrap(previous) if previous is not None else None,
    )
    kind = anomalies_pb2.DriftSkewInfo.Measurement.Type.Name
    found: dict[str, Comparison] = {}
    for info in anomalies.drift_skew_info:
        measurements = info.skew_measurements if serving is not None else info.drift_measurements
        for m in measurements:
            found[".".join(info.path.step)] = Comparison(kind(m.type), m.value, m.threshold)
    return found


# --- rendering -------------------------------------------------------------------------------


def render(data: StatsPage, title: str, subtitle: str) -> str:
    if not data.splits:
        return page(title, subtitle, "<p>No statistics were found in this artifact.</p>")
    splits = list(data.splits)
    body = [_overview(data)]
    body.append(_comparison_section(
        "Train/eval skew",
        f"TFDV's skew comparator, {data.skew_pair[0]} against {data.skew_pair[1]}"
        if data.skew_pair else "", data.skew, "skew-table"))
    if data.previous:
        body.append(_comparison_section(
            "Drift from the previous span",
            f"TFDV's drift comparator, this span's {_base(data)} against span "
            f"{data.previous_span}'s", data.drift, "drift-table"))
    else:
        body.append('<h2>Drift from the previous span</h2><p class="muted" id="no-previous">'
                    "This run compared with no previous span.</p>")
    legend = "".join(f'<span><i class="sw" style="background:{SERIES[i % len(SERIES)]}"></i>'
                     f"{esc(s)}</span>" for i, s in enumerate(splits))
    if data.previous:
        legend += ('<span><i class="sw" style="background:none;border:2px dashed '
                   f'{SERIES[2]}"></i>span {esc(data.previous_span)} ({esc(_base(data))})</span>')
    body.append(
        '<h2>Features</h2><div class="controls">'
        '<label>sort by <select id="sort"><option value="name">name</option>'
        '<option value="missing">missing %</option><option value="skew">skew</option>'
        '<option value="drift">drift</option></select></label>'
        '<label>filter <input id="filter" placeholder="feature name"></label>'
        '<label><input type="checkbox" id="log"> log scale</label>'
        f'<span class="legend">{legend}</span></div><div id="features">'
    )
    names = sorted({_name(f) for d in data.splits.values() for f in d.features})
    for name in names:
        body.append(_feature_card(data, name))
    body.append("</div>")
    return page(title, subtitle, "".join(body), script=_SCRIPT)


def _base(data: StatsPage) -> str:
    return data.skew_pair[0] if data.skew_pair else next(iter(data.splits))


def _overview(data: StatsPage) -> str:
    rows = [(esc(s), num_cell(d.num_examples), num_cell(len(d.features)))
            for s, d in data.splits.items()]
    rows += [(esc(f"{s} (span {data.previous_span})"), num_cell(d.num_examples),
              num_cell(len(d.features))) for s, d in data.previous.items()]
    return "<h2>Splits</h2>" + table(["split", "examples", "features"], rows)


def _comparison_section(heading: str, what: str, found: dict[str, Comparison],
                        ident: str) -> str:
    if not found:
        return f'<h2>{esc(heading)}</h2><p class="muted">No comparison was possible.</p>'
    rows = []
    for feature, c in sorted(found.items(), key=lambda kv: -_sortable(kv[1].value)):
        status = '<span class="fail">over</span>' if c.over else '<span class="pass">ok</span>'
        rows.append((f'<td data-feature="{esc(feature)}">{esc(feature)}</td>', esc(c.measure),
                     num_cell(c.value), num_cell(c.threshold), status))
    return (f"<h2>{esc(heading)}</h2><p>{esc(what)}.</p>"
            + table(["feature", "measure", "value", "threshold", ""], rows, sortable=True,
                    table_id=ident))


def _sortable(value: float) -> float:
    return value if math.isfinite(value) else 1e9


def _feature_card(data: StatsPage, name: str) -> str:
    per_split = {s: _find(d, name) for s, d in data.splits.items()}
    previous = {s: _find(d, name) for s, d in data.previous.items()}
    first = next(f for f in per_split.values() if f is not None)
    kind = _type(first)
    base = _base(data)
    missing = _missing_fraction(per_split.get(base), data.splits[base].num_examples)
    skew, drift = data.skew.get(name), data.drift.get(name)
    flags = []
    if skew is not None:
        cls = "fail" if skew.over else "muted"
        flags.append(f'<span class="{cls}">skew {num(skew.value)}</span>')
    if drift is not None:
        cls = "fail" if drift.over else "muted"
        flags.append(f'<span class="{cls}">drift {num(drift.value)}</span>')
    attrs = (f'data-name="{esc(name)}" data-missing="{missing:.6f}" '
             f'data-skew="{skew.value if skew else -1:.6f}" '
             f'data-drift="{drift.value if drift else -1:.6f}"')
    head = (f'<h3>{esc(name)} <span class="muted">{esc(kind)}</span> '
            f'{" · ".join(flags)}</h3>')
    if first.HasField("num_stats"):
        content = _numeric(data, per_split, previous)
    else:
        content = _categorical(data, per_split)
    return f'<div class="card feature" {attrs}>{head}{content}</div>'


def _numeric(data: StatsPage, per_split: dict[str, Any], previous: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    for split, f in [*per_split.items(),
                     *((f"{s} (span {data.previous_span})", f) for s, f in previous.items())]:
        if f is None:
            rows.append((esc(split), '<td colspan="10" class="muted">absent</td>'))
            continue
        n = f.num_stats
        common = n.common_stats
        total = common.num_non_missing + common.num_missing
        quantiles = _quantiles(n)
        rows.append((
            esc(split), num_cell(common.num_non_missing),
            f'<td class="num">{num(common.num_missing)} ({pct(common.num_missing, total)})</td>',
            num_cell(n.mean), num_cell(n.std_dev),
            f'<td class="num">{num(n.num_zeros)} ({pct(n.num_zeros, common.num_non_missing)})</td>',
            num_cell(n.min), num_cell(n.median), num_cell(n.max),
            f'<td class="num">{" · ".join(num(q, 3) for q in quantiles) or "–"}</td>',
        ))
    stats = table(["split", "count", "missing", "mean", "std", "zeros", "min", "median", "max",
                   "deciles (10%…90%)"], rows)
    series = [(s, f, SERIES[i % len(SERIES)], False) for i, (s, f) in enumerate(per_split.items())
              if f is not None]
    base = _base(data)
    if previous.get(base) is not None:
        series.append((f"span {data.previous_span}", previous[base], SERIES[2], True))
    return stats + _histogram(series)


def _quantiles(n: Any) -> list[float]:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    for h in n.histograms:
        if h.type == statistics_pb2.Histogram.QUANTILES and h.buckets:
            return [b.high_value for b in h.buckets[:-1]]
    return []


def _histogram(series: list[tuple[str, Any, str, bool]]) -> str:
    """Every split's standard histogram on one x axis, as the fraction of its values per
    bucket; a linear and a log drawing, the checkbox shows one."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    buckets = []
    for label, f, colour, dashed in series:
        for h in f.num_stats.histograms:
            if h.type == statistics_pb2.Histogram.STANDARD and h.buckets:
                total = sum(b.sample_count for b in h.buckets) or 1.0
                buckets.append((label, colour, dashed,
                                [(b.low_value, b.high_value, b.sample_count / total)
                                 for b in h.buckets]))
    if not buckets:
        return ""
    lo = min(b[0] for _, _, _, bs in buckets for b in bs)
    hi = max(b[1] for _, _, _, bs in buckets for b in bs)
    span = (hi - lo) or 1.0
    width, height, pad = 520, 150, 28
    top = max(b[2] for _, _, _, bs in buckets for b in bs) or 1.0
    floor = 1e-3

    def x(v: float) -> float:
        return pad + (v - lo) / span * (width - 2 * pad)

    def y(frac: float, log: bool) -> float:
        if log:
            level = (math.log10(max(frac, floor)) - math.log10(floor)) / (
                math.log10(top) - math.log10(floor) or 1.0)
        else:
            level = frac / top
        return height - pad + 6 - level * (height - pad - 6)

    parts = [f'<svg class="hist" width="{width}" height="{height}" role="img">',
             f'<line x1="{pad}" y1="{height - pad + 6}" x2="{width - pad}" '
             f'y2="{height - pad + 6}" stroke="#56606c"/>',
             f'<text x="{pad}" y="{height - 6}" font-size="11">{esc(num(lo, 3))}</text>',
             f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">'
             f'{esc(num(hi, 3))}</text>']
    for log in (False, True):
        parts.append(f'<g class="{"logscale" if log else "linear"}">')
        for label, colour, dashed, bs in buckets:
            for low, high, frac in bs:
                x0, x1 = x(low), max(x(high), x(low) + 1)
                y0 = y(frac, log)
                base = height - pad + 6
                if dashed:
                    parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                                 f'height="{base - y0:.1f}" fill="none" stroke="{colour}" '
                                 'stroke-dasharray="4 3" stroke-width="1.5">'
                                 f'<title>{esc(label)}: {frac:.1%} in [{num(low)}, '
                                 f'{num(high)})</title></rect>')
                else:
                    parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                                 f'height="{base - y0:.1f}" fill="{colour}" fill-opacity="0.45" '
                                 f'stroke="{colour}"><title>{esc(label)}: {frac:.1%} in '
                                 f'[{num(low)}, {num(high)})</title></rect>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _categorical(data: StatsPage, per_split: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    for split, f in per_split.items():
        if f is None:
            rows.append((esc(split), '<td colspan="4" class="muted">absent</td>'))
            continue
        s = f.string_stats
        common = s.common_stats
        total = common.num_non_missing + common.num_missing
        rows.append((esc(split), num_cell(common.num_non_missing),
                     f'<td class="num">{num(common.num_missing)} '
                     f'({pct(common.num_missing, total)})</td>',
                     num_cell(s.unique), num_cell(s.avg_length)))
    stats = table(["split", "count", "missing", "unique", "avg length"], rows)
    base = per_split.get(_base(data)) or next(f for f in per_split.values() if f is not None)
    values = [v.value for v in _top(base)[:TOP_K]]
    frequencies = {
        split: {v.value: v.frequency for v in _top(f)} for split, f in per_split.items() if f
    }
    totals = {split: sum(fr.values()) or 1.0 for split, fr in frequencies.items()}
    bars = []
    for value in values:
        label = EMPTY if value == "" else esc(value)
        cells = []
        for i, split in enumerate(frequencies):
            share = frequencies[split].get(value, 0.0) / totals[split]
            colour = SERIES[i % len(SERIES)]
            cells.append(
                f'<div title="{esc(split)}"><i class="sw" style="width:{share * 260:.0f}px;'
                f'background:{colour}"></i>{num(frequencies[split].get(value, 0.0))} '
                f'({share:.1%})</div>')
        bars.append((f'<td class="value">{label}</td>', "".join(cells)))
    return stats + "<h4>top values</h4>" + table(["value", " / ".join(frequencies)], bars)


def _top(f: Any) -> list[Any]:
    """Top values, most frequent first; TFDV's rank histogram when top_values is empty."""
    s = f.string_stats
    if s.top_values:
        return list(s.top_values)

    @dataclass
    class Value:
        value: str
        frequency: float

    return [Value(b.label, b.sample_count) for b in s.rank_histogram.buckets]


def _find(dataset: Any, name: str) -> Any:
    return next((f for f in dataset.features if _name(f) == name), None)


def _name(feature: Any) -> str:
    return ".".join(feature.path.step) if feature.path.step else feature.name


def _type(feature: Any) -> str:
    from tensorflow_metadata.proto.v0 import statistics_pb2

    return str(statistics_pb2.FeatureNameStatistics.Type.Name(feature.type))


def _missing_fraction(feature: Any, examples: float) -> float:
    if feature is None or not examples:
        return 1.0
    stats = feature.num_stats if feature.HasField("num_stats") else feature.string_stats
    return float(stats.common_stats.num_missing) / examples


_SCRIPT = """
(function(){var box=document.getElementById('features');
function apply(){var key=document.getElementById('sort').value,
 f=document.getElementById('filter').value.toLowerCase(),
 cards=Array.prototype.slice.call(box.querySelectorAll('.feature'));
 cards.sort(function(a,b){if(key==='name')return a.dataset.name.localeCompare(b.dataset.name);
 return parseFloat(b.dataset[key])-parseFloat(a.dataset[key]);});
 cards.forEach(function(c){c.style.display=c.dataset.name.toLowerCase().indexOf(f)<0?'none':'';
 box.appendChild(c);});}
function scale(){document.body.classList.toggle('log',document.getElementById('log').checked);}
document.getElementById('sort').addEventListener('change',apply);
document.getElementById('filter').addEventListener('input',apply);
document.getElementById('log').addEventListener('change',scale);
var h=location.hash.slice(1).split('&');h.forEach(function(kv){var p=kv.split('=');
 if(p[0]==='sort')document.getElementById('sort').value=p[1];
 if(p[0]==='filter')document.getElementById('filter').value=decodeURIComponent(p[1]||'');
 if(p[0]==='log')document.getElementById('log').checked=p[1]==='1';});
apply();scale();})();
"""
