"""Shared pieces of the offline report pages: escaping, CSS, number formats and layered graphs.

Every page is one self-contained file (inline CSS, inline SVG, at most a small inline script),
so it reads the same from a laptop, an air-gapped cluster or an Airflow log link: nothing is
fetched, and no page may contain an ``http(s)://`` URL in a ``src`` or ``href``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
 background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header .sub{opacity:.85;font-size:13px}
header a{color:#cfe3ff}
main{padding:16px 24px;max-width:1400px}
h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #d8dde5;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px}
th,td{border:1px solid #d8dde5;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";opacity:.4}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.slice{white-space:nowrap}
.pass{color:#11703a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.warn{color:#8a5a00;font-weight:600}.muted{color:#6b7480}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;color:#fff}
.b-complete{background:#2e7d32}.b-cached{background:#00838f}.b-skipped{background:#b58100}
.b-halted,.b-failed{background:#b3261e}.b-running{background:#5c6bc0}.b-not-run{background:#8d96a3}
.card{background:#fff;border:1px solid #d8dde5;border-radius:6px;padding:10px 14px;margin:10px 0}
.flag{background:#fff4d6;border:1px solid #e6c86e;border-radius:4px;padding:1px 6px;font-size:12px}
.empty{font-style:italic;color:#8a5a00}
.controls{margin:8px 0;display:flex;gap:14px;align-items:center;flex-wrap:wrap}
.legend span{margin-right:12px}.sw{display:inline-block;width:12px;height:12px;
 vertical-align:middle;margin-right:4px;border-radius:2px}
svg text{font-family:system-ui,sans-serif}
.plots{display:flex;flex-wrap:wrap;gap:14px}
details>summary{cursor:pointer;font-weight:600;margin:6px 0}
code{background:#eef1f5;padding:0 3px;border-radius:3px}
.hist .logscale{display:none}body.log .hist .linear{display:none}
body.log .hist .logscale{display:inline}
"""

# One colour per series, the same on every page: train/candidate, eval/baseline, previous span.
SERIES = ("#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c", "#9467bd")
STATUS_FILL = {
    "complete": "#e3f3e5", "cached": "#dff3f5", "skipped": "#fbf0d3", "halted": "#f9dedc",
    "failed": "#f9dedc", "running": "#e6e8f7", "not-run": "#eceef1",
}


def esc(value: object) -> str:
    """Text for HTML: escaped, with quotes, so it is safe in attributes too."""
    return html.escape(str(value), quote=True)


def page(title: str, subtitle: str, body: str, script: str = "") -> str:
    """A whole self-contained HTML document."""
    tail = f"<script>{script}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><div class=\"sub\">{subtitle}</div></header>"
        f"<main>{body}</main>{tail}</body></html>\n"
    )


def num(value: float | int | None, digits: int = 4) -> str:
    """A measured value for people: 4 significant digits, thousands separated, NaN spelled."""
    if value is None:
        return "–"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15):
        return f"{int(value):,}"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if abs(value) >= 1e5 or (abs(value) < 1e-3 and value != 0):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def signed(value: float | None) -> str:
    if value is None:
        return "–"
    if math.isnan(value):
        return "NaN"
    return f"{value:+.4g}"


def pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "–"


def badge(status: str) -> str:
    return f'<span class="badge b-{esc(status)}">{esc(status)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], sortable: bool = False,
          table_id: str = "") -> str:
    """Rows of already-escaped cells; ``sortable`` headers sort on click (SORT_SCRIPT)."""
    cls = ' class="sort"' if sortable else ""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    head = "".join(f"<th{cls}>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def rows_cell(cell: str) -> str:
    """A cell; one starting with ``<td`` is kept as is (for classes and data attributes)."""
    return cell if cell.startswith("<td") else f"<td>{cell}</td>"


def num_cell(value: float | int | None, sort_value: float | None = None, extra: str = "") -> str:
    key = sort_value if sort_value is not None else value
    data = "" if key is None or (isinstance(key, float) and math.isnan(key)) else f"{key}"
    return f'<td class="num" data-v="{esc(data)}">{num(value)}{extra}</td>'


# Sorts a table of class "sort" headers by the clicked column: numbers by data-v, else text.
SORT_SCRIPT = """
document.querySelectorAll('th.sort').forEach(function(th){th.addEventListener('click',function(){
 var table=th.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(
 th.parentNode.children,th),up=th.dataset.dir!=='asc';th.dataset.dir=up?'asc':'desc';
 var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){
 var x=a.cells[i],y=b.cells[i];var p=parseFloat(x.dataset.v),q=parseFloat(y.dataset.v);
 var r=(!isNaN(p)&&!isNaN(q))?p-q:x.textContent.localeCompare(y.textContent);
 return up?r:-r;});rows.forEach(function(r){body.appendChild(r);});});});
"""


# --- layered graphs (the run's DAG, an artifact's lineage) ----------------------------------


@dataclass
class GraphNode:
    id: str
    label: str
    detail: str = ""  # a second line
    fill: str = "#ffffff"
    shape: str = "box"  # box: an execution or node; round: an artifact
    href: str = ""
    tooltip: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # data-* attributes, for tests


def layered_svg(nodes: Sequence[GraphNode], edges: Iterable[tuple[str, str]],
                width_per_node: int = 190, layer_gap: int = 70, vertical: bool = False) -> str:
    """A layered drawing, each node one layer after its furthest parent: left to right, or
    top to bottom when ``vertical`` (a deep lineage then scrolls down, not sideways)."""
    ids = {n.id for n in nodes}
    pairs = [(a, b) for a, b in dict.fromkeys(edges) if a in ids and b in ids and a != b]
    parents: dict[str, list[str]] = {n.id: [] for n in nodes}
    for a, b in pairs:
        parents[b].append(a)
    layer: dict[str, int] = {}

    def depth(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node not in layer:
            if node in seen:  # a cycle cannot happen in MLMD lineage; be safe anyway
                return 0
            layer[node] = 1 + max((depth(p, seen | {node}) for p in parents[node]), default=-1)
        return layer[node]

    for n in nodes:
        depth(n.id)
    columns: dict[int, list[GraphNode]] = {}
    for n in nodes:
        columns.setdefault(layer[n.id], []).append(n)
    box_w, box_h, row_gap = width_per_node - 30, 44, 18
    tallest = max((len(c) for c in columns.values()), default=1)
    where: dict[str, tuple[float, float]] = {}
    if vertical:
        row_h, slot = box_h + layer_gap, box_w + row_gap
        width = tallest * slot + row_gap
        height = max(len(columns), 1) * row_h - layer_gap + 20
        for col, members in columns.items():
            offset = (width - len(members) * slot + row_gap) / 2
            for row, n in enumerate(members):
                where[n.id] = (offset + row * slot, 10 + col * row_h)
    else:
        col_w = box_w + layer_gap
        height = tallest * (box_h + row_gap) + row_gap
        width = max(len(columns), 1) * col_w - layer_gap + 20
        for col, members in columns.items():
            offset = (height - len(members) * (box_h + row_gap) + row_gap) / 2
            for row, n in enumerate(members):
                where[n.id] = (10 + col * col_w, offset + row * (box_h + row_gap))
    parts = [
        f'<svg class="graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
        'fill="#6b7480"/></marker></defs>',
    ]
    for a, b in pairs:
        (x1, y1), (x2, y2) = where[a], where[b]
        if vertical:
            sx, sy, tx, ty = x1 + box_w / 2, y1 + box_h, x2 + box_w / 2, y2
            mid = (sy + ty) / 2
            curve = (f"M{sx:.0f},{sy:.0f} C{sx:.0f},{mid:.0f} {tx:.0f},{mid:.0f} "
                     f"{tx:.0f},{ty - 2:.0f}")
        else:
            sx, sy, tx, ty = x1 + box_w, y1 + box_h / 2, x2, y2 + box_h / 2
            mid = (sx + tx) / 2
            curve = (f"M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ty:.0f} "
                     f"{tx - 2:.0f},{ty:.0f}")
        parts.append(f'<path class="edge" data-from="{esc(a)}" data-to="{esc(b)}" '
                     f'd="{curve}" fill="none" stroke="#9aa3ae" stroke-width="1.4" '
                     'marker-end="url(#arrow)"/>')
    for n in nodes:
        x, y = where[n.id]
        radius = 20 if n.shape == "round" else 4
        meta = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in n.meta.items())
        shape = (f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="{radius}" '
                 f'fill="{esc(n.fill)}" stroke="#56606c" stroke-width="1"/>'
                 f'<text x="{x + box_w / 2:.0f}" y="{y + 18:.0f}" text-anchor="middle" '
                 f'font-size="12" font-weight="600">{esc(_clip(n.label, 26))}</text>'
                 f'<text x="{x + box_w / 2:.0f}" y="{y + 34:.0f}" text-anchor="middle" '
                 f'font-size="11" fill="#4b5563">{esc(_clip(n.detail, 30))}</text>'
                 f'<title>{esc(n.tooltip or n.label)}</title>')
        group = f'<g class="node" data-id="{esc(n.id)}"{meta}>{shape}</g>'
        parts.append(f'<a href="{esc(n.href)}">{group}</a>' if n.href else group)
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def properties_table(properties: Mapping[str, object]) -> str:
    rows = [(esc(k), esc(_clip(str(v), 300))) for k, v in sorted(properties.items())]
    return table(["property", "value"], rows) if rows else '<p class="muted">no properties</p>'
