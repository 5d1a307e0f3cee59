"""Render bench/RESULTS.md from a harness result JSON and, when present, the TFX result JSON of
the same date and host (``<stem>-tfx.json``). Ratios are Lockgate / TFX: below 1 is faster."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
PENGUIN_ROUND_TWO = 0.25  # performance round 2: a cold penguin run at most 0.25x TFX's time
NODES = ("example_gen", "statistics_gen", "schema_gen", "example_validator", "transform",
         "trainer", "evaluator", "pusher")


def node_id(tfx_component: str) -> str:
    """TFX component ids (CsvExampleGen, ExampleValidator, ...) as Lockgate node ids."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", tfx_component).lower()
    return snake.removeprefix("csv_")


def cell(stat: dict[str, Any] | None, unit: str = "s") -> str:
    if not stat:
        return "–"
    return f"{stat['median']:g} {unit} ({stat['min']:g}–{stat['max']:g})"


def ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    if not ours or not theirs or not theirs["median"]:
        return "–"
    return f"{ours['median'] / theirs['median']:.2f}×"


def tfx_components(figure: dict[str, Any] | None) -> dict[str, Any]:
    return {node_id(k): v for k, v in (figure or {}).get("components", {}).items()}


def whole_run_table(ours: dict[str, Any], theirs: dict[str, Any] | None) -> list[str]:
    lines = ["| step | Lockgate | TFX 1.16 | Lockgate/TFX |", "|---|---|---|---|"]
    theirs = theirs or {}
    lines.append(f"| whole process | {cell(ours['wall_s'])} | {cell(theirs.get('wall_s'))} | "
                 f"{ratio(ours['wall_s'], theirs.get('wall_s'))} |")
    lines.append(f"| peak RSS | {cell(ours['peak_rss_mb'], 'MB')} | "
                 f"{cell(theirs.get('peak_rss_mb'), 'MB')} | "
                 f"{ratio(ours['peak_rss_mb'], theirs.get('peak_rss_mb'))} |")
    tfx = tfx_components(theirs)
    for node in NODES:
        mine = ours["components"].get(node)
        if mine or node in tfx:
            lines.append(f"| {node} | {cell(mine)} | {cell(tfx.get(node))} | "
                         f"{ratio(mine, tfx.get(node))} |")
    return lines


def tfx_figure_name(dataset: str, rows: int) -> str:
    """bench/tfx/run.py's name of a data set's figure at a size: pupdates_100k, numeric_1m."""
    if rows % 1_000_000 == 0:
        return f"{dataset}_{rows // 1_000_000}m"
    return f"{dataset}_{rows // 1_000}k"


def throughput_table(ours: dict[str, Any], theirs: dict[str, Any] | None) -> list[str]:
    """Rows per second of each component whose work grows with the rows, beside TFX's."""
    lines = ["| component | Lockgate rows/s | TFX 1.16 rows/s | Lockgate/TFX throughput |",
             "|---|---|---|---|"]
    tfx = {node_id(k): v for k, v in (theirs or {}).get("rows_per_s", {}).items()}
    for node, speed in ours["rows_per_s"].items():
        other = tfx.get(node)
        lines.append(f"| {node} | {speed:,} | {f'{other:,}' if other else '–'} | "
                     f"{f'{speed / other:.2f}×' if other else '–'} |")
    return lines


def side_by_side_note(fig: dict[str, Any]) -> list[str]:
    """How a figure measured by ``bench/side_by_side.py`` was run, or nothing."""
    how = fig.get("side_by_side")
    if not how:
        return []
    runs = f"{how['repeats']} run{'s' if how['repeats'] != 1 else ''}"
    return [f"Measured side by side (`python -m bench.side_by_side`, {how['started']} to "
            f"{how['finished']}): {runs} of each, one Lockgate and one TFX process per repeat, "
            "the side that goes first alternating.", ""]


def penguin_round_two(cold: dict[str, Any], tfx_cold: dict[str, Any] | None) -> list[str]:
    """Performance round 2's goal for the cold run: at most 0.25× TFX's whole process."""
    if not tfx_cold:
        return []
    ratio = cold["wall_s"]["median"] / tfx_cold["wall_s"]["median"]
    met = "met" if ratio <= PENGUIN_ROUND_TWO else "not met"
    return [f"- Whole process: **{ratio:.2f}×** TFX (performance round 2's goal "
            f"≤ {PENGUIN_ROUND_TWO}×: **{met}**)", ""]


def main_mode(fig: dict[str, Any]) -> str:
    """The mode a size's tables show: the shipped config's, else (older results) the best."""
    return str(fig.get("main_mode", fig["best_mode"]))


def scale_section(title: str, dataset: str, scale: dict[str, Any],
                  tfx_figures: dict[str, Any]) -> list[str]:
    """One generated data set at each size: the whole-run and per-component table of its best
    DirectRunner mode against TFX, the throughput of the components that scale with the rows,
    and every mode's times."""
    out = [title, "",
           "Throughput is rows per second of the components whose work grows with the rows (the "
           "Trainer runs fixed steps), in the mode named in each heading; Lockgate/TFX "
           "throughput above 1× is faster. `shipped` is the config as shipped, where each step "
           "picks its DirectRunner mode by its data's size; TFX runs in its default mode.", ""]
    for fig in scale.values():
        rows = fig["rows"]
        main = main_mode(fig)
        theirs = tfx_figures.get(tfx_figure_name(dataset, rows))
        out += [f"### {rows:,} rows, mode `{main}`", "",
                *whole_run_table(fig["modes"][main], theirs), "",
                *throughput_table(fig["modes"][main], theirs), "",
                *side_by_side_note(fig),
                "| mode | whole process | peak RSS | rows/s by component |",
                "|---|---|---|---|"]
        for mode, data in fig["modes"].items():
            speeds = ", ".join(f"{n} {v:,}" for n, v in data["rows_per_s"].items())
            out.append(f"| {mode} | {cell(data['wall_s'])} | "
                       f"{cell(data['peak_rss_mb'], 'MB')} | {speeds} |")
        out.append("")
    sizes = sorted(scale.values(), key=lambda f: f["rows"])
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        growth = (large["modes"][main_mode(large)]["wall_s"]["median"]
                  / small["modes"][main_mode(small)]["wall_s"]["median"])
        out += [f"- Growth from {small['rows']:,} to {large['rows']:,} rows "
                f"({large['rows'] / small['rows']:.0f}× the data): {growth:.1f}× the time.", ""]
    return out


def stack(result: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in (result or {}).get("versions", {}).items())


def render(result: dict[str, Any], tfx: dict[str, Any] | None) -> str:
    figures = result.get("figures", {})
    tfx_figures = (tfx or {}).get("figures", {})
    machine = result.get("machine", {})
    out = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (and `make bench-tfx` for the TFX columns) with "
        "`bench/report.py`; do not edit by hand. Each figure is the median of "
        f"{result.get('repeats', '?')} runs, with (min–max). Ratios are Lockgate/TFX in the "
        "same harness run: below 1× is faster.",
        "",
        f"- Machine: {machine.get('host')} · {machine.get('cores')} cores · "
        f"{machine.get('memory_gb')} GiB · Python {machine.get('python')}",
        f"- Lockgate stack: {stack(result)}",
        f"- TFX stack: {stack(tfx) or 'not measured in this run (`make bench-tfx`)'}",
        f"- Updated: {result.get('updated', '?')}",
        "",
    ]
    penguin = figures.get("penguin")
    if penguin:
        cold, cached = penguin["penguin_cold"], penguin["penguin_cached"]
        out += ["## 1. Penguin, cold (goal ≤ 0.5× TFX)", "",
                *whole_run_table(cold, tfx_figures.get("penguin_cold")), "",
                *penguin_round_two(cold, tfx_figures.get("penguin_cold")),
                *side_by_side_note(penguin),
                "## 2. Penguin, fully cached re-run (goal ≤ 5 s)", "",
                *whole_run_table(cached, tfx_figures.get("penguin_cached")), "",
                f"- `lockgate --help` (interpreter start-up and CLI imports): "
                f"{cell(penguin['cli_startup_s'])}",
                f"- Second run (Evaluator and Pusher re-run against the new baseline): "
                f"{cell(penguin['penguin_second']['wall_s'])}",
                f"- Cached re-run beyond start-up, as a fraction of the cold run beyond start-up "
                f"(caching issue, goal < 10%): **{penguin['cached_fraction_of_cold']:.1%}**", ""]
    parse = figures.get("dag_parse")
    if parse:
        files = parse["bytecode_cache"]["dag_files_beyond_airflow_s"]
        out += ["## 3. DAG parse (goal ≤ 0.3 s)", "",
                "| DAG file | import time beyond `airflow.sdk` (warm bytecode cache) | cold |",
                "|---|---|---|"]
        cold_files = parse["no_bytecode_cache"]["dag_files_beyond_airflow_s"]
        for name, seconds in files.items():
            out.append(f"| {name} | {seconds:g} s | {cold_files[name]:g} s |")
        out += ["", f"- Total: {sum(files.values()):.3f} s; heavy modules imported: "
                f"{parse['heavy_modules_imported'] or 'none'}",
                "- `import airflow.sdk` itself: "
                f"{parse['bytecode_cache']['airflow_sdk_import_s']} s"]
        if "import_tfx" in tfx_figures:
            out.append(f"- TFX: `import tfx.v1` alone: {cell(tfx_figures['import_tfx']['wall_s'])}")
        out.append("")
    airflow = figures.get("airflow")
    if airflow:
        out += ["## 4. Orchestration overhead in Airflow (goal ≤ 1.5×)", "",
                f"- `airflow dags test penguin`: {cell(airflow['dags_test_s'])}",
                f"- `lockgate run configs/penguin.yaml`: {cell(airflow['lockgate_run_s'])}",
                f"- Ratio: **{airflow['ratio']:.2f}×** (performance round 2's goal ≤ 1.25×: "
                f"{'met' if airflow['ratio'] <= 1.25 else '**not met**'})",
                f"- Time inside the {airflow.get('nodes', 8)} components (MLMD): Airflow "
                f"{cell(airflow['components_s']['airflow'])}, `lockgate run` "
                f"{cell(airflow['components_s']['lockgate_run'])}",
                "- Time outside them (interpreter, imports, DAG parse, Airflow DB, MLMD): "
                f"Airflow {cell(airflow['outside_components_s']['airflow'])}, `lockgate run` "
                f"{cell(airflow['outside_components_s']['lockgate_run'])}", "",
                *airflow_notes(), ""]
    scale = figures.get("scale")
    if scale:
        out += scale_section("## 5. Scale: pupdates", "pupdates", scale, tfx_figures)
    numeric = figures.get("numeric")
    if numeric:  # `5b`: the sections after it keep their numbers, which other scripts find
        out += scale_section("## 5b. Scale: numeric (30 float features, a binary label)",
                             "numeric", numeric, tfx_figures)
    limit = figures.get("example_gen_limit")
    if limit:
        out += ["## 6. ExampleGen near the limit (goal ≤ 1.5×)", "",
                f"- ExampleGen on {limit['rows']:,} rows: {cell(limit['example_gen_s'])}",
                f"- `pyarrow.csv.read_csv` + tfx-bsl encode of the same file: "
                f"{cell(limit['read_encode_s'])}",
                f"- Ratio: **{limit['ratio']:.2f}×**", ""]
    reference = REFERENCE_EVAL_JSON
    if reference.exists():  # written by bench/reference_eval.py, run on its own
        out += reference_eval_section(json.loads(reference.read_text()))
    from bench import lineage_queries  # section 8, written by `python -m bench.lineage_queries`

    if lineage_queries.RESULTS_JSON.exists():
        out += lineage_queries.section(
            json.loads(lineage_queries.RESULTS_JSON.read_text())["figures"])
    from bench import daily_window, floors  # sections 9 and 10, each also written by its script

    if daily_window.RESULT.exists():
        out += ["", *daily_window.section(json.loads(daily_window.RESULT.read_text())).splitlines()]
    if measured := floors.results():
        out += ["", *floors.section(measured)]
    from bench import scale_run  # section 11, written by `python -m bench.scale_run`

    if scale_run.RESULT.exists():
        out += ["", *scale_run.section(json.loads(scale_run.RESULT.read_text()))]
    return "\n".join(out).rstrip() + "\n"


REFERENCE_EVAL_JSON = RESULTS_MD.parent / "results" / "reference_eval" / "latest.json"


def reference_eval_section(figures: dict[str, Any]) -> list[str]:
    """Section 7: the Evaluator's reference set's extra cost (``python -m bench.reference_eval``,
    which also writes this section in place)."""
    load = ", ".join(f"{x:g}" for x in figures["load_average_at_start"])
    return [
        "## 7. Reference evaluation (the Evaluator's reference set)", "",
        f"Penguins resampled; candidate vs baseline on a {figures['eval_rows']:,}-row eval "
        f"split, plus the reference ({figures['reference_rows']:,} rows, the baseline's eval "
        f"split). {figures['repeats']} alternating runs after a warm-up; load average at start "
        f"{load}; {figures['updated']}.", "",
        "| Evaluator | whole executor | TFMA (one Beam pipeline) |",
        "|---|---|---|",
        f"| `reference: {{kind: none}}` | {cell(figures['none']['wall_s'])} "
        f"| {cell(figures['none']['tfma_s'])} |",
        f"| default (`baseline_eval`) | {cell(figures['baseline_eval']['wall_s'])} "
        f"| {cell(figures['baseline_eval']['tfma_s'])} |",
        "",
        f"- Extra cost of the reference: {figures['extra_s']:g} s, "
        f"**{figures['extra_ratio']:.2f}×** the Evaluator's time without it.",
        *([f"- {figures['note']}"] if figures.get("note") else []), "",
    ]


def replace_section(title: str, lines: list[str]) -> None:
    """Put ``lines`` in place of the section of RESULTS.md that starts with ``title`` (up to the
    next ``## `` heading), or at the end: scripts run on their own update their section only."""
    current = RESULTS_MD.read_text().rstrip().splitlines()
    start = next((i for i, line in enumerate(current) if line.startswith(title)), None)
    if start is None:
        current += ["", *lines]
    else:
        end = next((j for j in range(start + 1, len(current)) if current[j].startswith("## ")),
                   len(current))
        current[start:end] = [*lines, *([""] if end < len(current) else [])]
    RESULTS_MD.write_text("\n".join(current).rstrip() + "\n")


def airflow_notes() -> list[str]:
    from bench.airflow_overhead import NOTES

    return NOTES


def write_results_md(result_path: Path) -> None:
    tfx_path = result_path.with_name(f"{result_path.stem}-tfx.json")
    tfx = json.loads(tfx_path.read_text()) if tfx_path.exists() else None
    RESULTS_MD.write_text(render(json.loads(result_path.read_text()), tfx))


def latest_result() -> Path:
    """The newest Lockgate result file (TFX files end in -tfx.json and are read beside it)."""
    results = sorted(
        (p for p in RESULTS_MD.parent.glob("results/[0-9]*.json")  # <date>-<host>.json
         if not p.stem.endswith("-tfx")),
        key=lambda p: p.stat().st_mtime,
    )
    if not results:
        raise SystemExit("no bench/results/*.json yet: run `make bench` first")
    return results[-1]


if __name__ == "__main__":
    write_results_md(latest_result())
