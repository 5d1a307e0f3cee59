"""Figure 9: a daily run over a 7-day window against a cold run of the same window.

pupdates, ``--rows`` posts per day (100k by default), eight dated days from the generator. The
shipped pupdates config reads ``day={YYYY}-{MM}-{DD}/posts.csv`` with ``spans: {latest: 7}``.

- cold: a fresh home, ``lockgate run --date`` day 7: ingests and profiles days 1..7 (six of
  them in their own ``RUN.span-N`` runs first), then trains on the window.
- day N: the same home, ``--date`` day 8: ingests and profiles day 8 only (days 2..7 are cache
  hits), then trains on days 2..8.

Each is a whole ``lockgate`` process; per node, the seconds come from ML Metadata, summed over
the run and its ``RUN.span-N`` runs. Goal: day N ≤ 0.4× cold.

    uv run --frozen python -m bench.daily_window [--rows 100000] [--repeats 1]

Writes ``bench/results/daily_window/latest.json`` and section 9 of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.lockgate_runs import LOCKGATE, REPO, lockgate_home
from bench.measure import clean_env, run_process, summary
from bench.report import replace_section
from tests.e2e.configs import component, config_variant

RESULT = Path(__file__).resolve().parent / "results" / "daily_window" / "latest.json"
SECTION = "## 9. Daily run over a 7-day window"
FIRST = date(2026, 11, 1)
WINDOW = 7
GOAL = 0.4


def config(work: Path, data: Path) -> Path:
    def edit(config: dict[str, Any]) -> None:
        gen = component(config, "ExampleGen")["params"]
        gen["input"] = str(data / "day={YYYY}-{MM}-{DD}" / "posts.csv")
        gen["spans"] = {"latest": WINDOW}

    (work / "cfg").mkdir(parents=True, exist_ok=True)
    return config_variant(work / "cfg", edit, source="pupdates")


def node_seconds(config_path: Path, home: Path, run_id: str) -> dict[str, float]:
    """Seconds per node over the run and the older-span runs it made first."""
    from pipelines.loading import load_config
    from pipelines.metadata.store import LineageStore

    with lockgate_home(home):
        loaded = load_config(config_path, require_data=False)
        store = LineageStore(loaded.metadata)
        name = loaded.pipeline.name
        runs = [r for r in store.run_ids(name) if r == run_id or r.startswith(f"{run_id}.")]
        totals: dict[str, float] = {}
        for run in runs:
            for execution in store.run_executions(name, run):
                totals[execution.node_id] = round(
                    totals.get(execution.node_id, 0.0) + execution.seconds, 2)
    return totals


def measure(rows: int, repeats: int, work: Path) -> dict[str, Any]:
    data = work / "data"
    run_process([*LOCKGATE, "datagen", "pupdates", "--rows", str(rows), "--start-date",
                 FIRST.isoformat(), "--days", str(WINDOW + 1), "--out", str(data)],
                clean_env(), REPO)
    cfg = config(work, data)
    cold: list[float] = []
    daily: list[float] = []
    cold_nodes: list[dict[str, float]] = []
    daily_nodes: list[dict[str, float]] = []
    for i in range(repeats):
        home = work / f"home-{i}"
        env = clean_env(LOCKGATE_HOME=str(home))
        for runs, nodes, day, run_id in ((cold, cold_nodes, WINDOW, "cold"),
                                         (daily, daily_nodes, WINDOW + 1, "day-n")):
            when = FIRST + timedelta(days=day - 1)
            runs.append(run_process([*LOCKGATE, "run", str(cfg), "--date", when.isoformat(),
                                     "--run-id", run_id], env, REPO).wall_s)
            nodes.append(node_seconds(cfg, home, run_id))
            print(f"{run_id} {i + 1}/{repeats}: {runs[-1]:.1f}s", file=sys.stderr)
    ratio = summary([d / c for c, d in zip(cold, daily, strict=True)])
    return {
        "rows_per_day": rows, "window": WINDOW, "repeats": repeats,
        "cold_s": summary(cold), "day_n_s": summary(daily), "ratio": ratio,
        "cold_nodes": cold_nodes[-1], "day_n_nodes": daily_nodes[-1],
        "goal": GOAL, "met": ratio["median"] <= GOAL,
        "when": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(),
    }


def section(result: dict[str, Any]) -> str:
    cold, daily = result["cold_nodes"], result["day_n_nodes"]
    rows = "\n".join(
        f"| {node} | {cold.get(node, 0):.1f} s | {daily.get(node, 0):.1f} s |"
        for node in dict.fromkeys([*cold, *daily]))
    verdict = "met" if result["met"] else "**not met**"
    total = sum(daily.values()) or 1.0
    where = ", ".join(f"{node} {seconds:.1f} s ({seconds / total:.0%})" for node, seconds in
                      sorted(daily.items(), key=lambda kv: -kv[1])[:3])
    return f"""{SECTION}

`python -m bench.daily_window` ({result['when']}): pupdates, {result['rows_per_day']:,} \
posts a day, `spans: {{latest: {result['window']}}}`, whole `lockgate run --date` processes, \
median of {result['repeats']}. Cold: a fresh home, day {result['window']}: ingests all \
{result['window']} days, and no model exists yet. Day N: the next day in the same home: \
ingests one day, and the Evaluator judges the candidate against the cold run's model on the \
new eval split and on the reference set.

| run | wall time |
|---|---|
| cold | {result['cold_s']['median']} s |
| day N | {result['day_n_s']['median']} s |
| day N / cold | **{result['ratio']['median']:.2f}×** (goal ≤ {result['goal']}×: {verdict}) |

Seconds per node (summed over the run and the `RUN.span-N` runs it made first):

| node | cold | day N |
|---|---|---|
{rows}

Where day N's node time goes: {where}.

Why the goal is out of reach, measured on this data (2026-12-07):
- **The cold run got cheaper.** StatisticsGen now computes TFDV's statistics in the process
  (cold: 26.3 s to 7.1 s for the seven days), so what day N saves by reading one day is
  small beside what both runs must do over the whole window.
- **Evaluator.** Day N runs four TFMA evaluations (candidate and baseline, on the new eval
  split and on the reference set) where the cold run, with no baseline yet, runs one. Since
  a baseline doubles the rows scored, day N runs on two Beam workers (66.3 s to 40.4 s). Per
  example, TFMA's Python metric combiners dominate. Each used to extract the example's label,
  prediction and weight again (`to_label_prediction_example_weight`); they now share one
  extraction (`components/evaluator/label_prediction_cache.py`). Day N's Evaluator took
  42.7 s at 12:48 and 31.4 s at 20:25 with it (separate runs, so the machine's swing is in
  it too; side by side on 1M rows it saved 12 to 17%, section 10). What remains is TFMA's
  unbatching, slicing and the combiners' `add_input`s: batched inference of the same eval
  split takes under 0.1 s (section 10).
- **Transform.** It materialises the whole window's transformed examples (700k rows) every
  day, since the window's new vocabularies and means change every row. Analysis is not the
  cost: tf.Transform's per-span analyzer cache was tried and measured on the same window
  (no cache 37.3 s, cache cold 50.7 s, cache warm 36.6 s) and left out. Since 23:00 it reads
  the window's train split twice, for the analysis and for the transform, because the
  DirectRunner lost rows when one read fed both (`components/transform/executor.py`).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work here and keep the homes, to profile")
    args = parser.parse_args()
    if args.keep:
        result = measure(args.rows, args.repeats, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="lockgate-daily-") as work:
            result = measure(args.rows, args.repeats, Path(work))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    replace_section(SECTION, section(result).rstrip().splitlines())
    print(json.dumps({k: result[k] for k in ("cold_s", "day_n_s", "ratio", "met")}, indent=2))


if __name__ == "__main__":
    main()
