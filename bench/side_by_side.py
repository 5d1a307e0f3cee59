"""Lockgate and TFX alternated run by run on the same generated data (sections 5 and 5b).

`make bench` and `make bench-tfx` each run their repeats back to back, possibly on different
days, and this machine's speed swings by up to 2× between hours. A ratio of two such figures
measures the machine as much as the frameworks. Here each repeat runs one whole Lockgate
process and one whole TFX process on the same data, and the side that goes first alternates
from one repeat to the next. The medians of those runs replace the figure in both result
files, and RESULTS.md says the figure was measured this way.

    uv run --frozen python -m bench.side_by_side [--datasets penguin,pupdates,numeric]
        [--rows 1000000] [--repeats 3]

`penguin` is sections 1 and 2 (cold, second and fully cached runs on the shipped data, which
`--rows` does not change); the others are a generated data set of `--rows` rows.

The TFX side runs `bench/tfx/run.py` with the TFX venv's python (`bench/tfx/setup.sh`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import lockgate_runs
from bench.measure import summary
from bench.report import latest_result, tfx_figure_name, write_results_md
from bench.run import compile_tree

FIGURE = {"pupdates": "scale", "numeric": "numeric"}  # bench/run.py's figure of each data set
PENGUIN = "penguin"
PENGUIN_TFX = ("penguin_cold", "penguin_cached")  # bench/tfx/run.py's figures of the penguin runs
TFX_RUN = Path(__file__).resolve().parent / "tfx" / "run.py"
TFX_SETUP = TFX_RUN.parent / "setup.sh"


def merge(runs: Sequence[Any], key: str = "") -> Any:
    """One figure from the same figure measured once per repeat: every summary's runs pooled
    and summarised again, lists joined, and anything else taken from the first repeat."""
    first = runs[0]
    if isinstance(first, dict):
        if {"median", "runs"} <= first.keys():  # memory in MB to 0.1, seconds to 0.001
            return summary([v for r in runs for v in r["runs"]],
                           digits=1 if key == "peak_rss_mb" else 3)
        return {k: merge([r[k] for r in runs if k in r], k) for k in first}
    if isinstance(first, list):
        return [item for r in runs for item in r]
    return first


def with_throughput(fig: dict[str, Any], rows: int) -> dict[str, Any]:
    """``rows_per_s`` again from the pooled medians of the components it names."""
    fig["rows_per_s"] = {node: round(rows / fig["components"][node]["median"])
                         for node in fig.get("rows_per_s", {})
                         if fig["components"].get(node, {}).get("median")}
    return fig


def tfx_once(python: str, names: Sequence[str], out: Path,
             log: Callable[[str], None]) -> dict[str, Any]:
    """One TFX run of the figures ``names`` in a process of the TFX venv; its figures."""
    log(f"TFX {', '.join(names)}")
    subprocess.run([python, str(TFX_RUN), "--figures", ",".join(names), "--repeats", "1",
                    "--out", str(out)], check=True)
    figures = json.loads(out.read_text())["figures"]
    return {name: figures[name] for name in names}


def pooled_penguin(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Lockgate's penguin figure over the repeats, with the cached run's share of the cold run
    (beyond start-up) computed again from the pooled medians."""
    fig = merge(runs)
    fig["cached_fraction_of_cold"] = lockgate_runs.cached_fraction(
        fig["penguin_cold"], fig["penguin_cached"], fig["cli_startup_s"]["median"])
    return fig


def measure(datasets: Sequence[str], rows: int, repeats: int, work: Path, python: str,
            log: Callable[[str], None]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Per data set, (Lockgate's figure, TFX's figure), each pooled over ``repeats`` runs."""
    ours: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    theirs: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    for i in range(repeats):
        for dataset in datasets:
            for side in ("lockgate", "tfx") if i % 2 == 0 else ("tfx", "lockgate"):
                if side == "lockgate" and dataset == PENGUIN:
                    ours[dataset].append(lockgate_runs.penguin(1, work / f"penguin-{i}", log))
                elif side == "lockgate":
                    ours[dataset].append(lockgate_runs.scale(dataset, rows, 1, work, log))
                    # Its home, so that the next repeat is a cold run too (the data stays).
                    shutil.rmtree(work / f"{dataset}-{rows}-{lockgate_runs.SHIPPED}")
                else:
                    names = PENGUIN_TFX if dataset == PENGUIN else [tfx_figure_name(dataset, rows)]
                    theirs[dataset].append(tfx_once(python, names, work / f"tfx-{i}.json", log))
    pooled = {}
    for dataset in datasets:
        if dataset == PENGUIN:
            pooled[dataset] = (pooled_penguin(ours[dataset]), merge(theirs[dataset]))
            continue
        mine = merge(ours[dataset])
        for mode in mine["modes"].values():
            with_throughput(mode, rows)
        name = tfx_figure_name(dataset, rows)
        pooled[dataset] = (mine, {name: with_throughput(merge(theirs[dataset])[name], rows)})
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="pupdates,numeric")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="the Lockgate result file (default: the latest; "
                        "TFX's is the same name with -tfx)")
    args = parser.parse_args()
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = sorted(set(datasets) - {PENGUIN, *FIGURE})
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {PENGUIN}, {', '.join(FIGURE)}")

    def log(line: str) -> None:
        print(f"[side-by-side {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    python = subprocess.run(["bash", str(TFX_SETUP)], check=True, capture_output=True,
                            text=True).stdout.strip().splitlines()[-1]
    out = args.out or latest_result()
    tfx_out = out.with_name(out.stem + "-tfx.json")
    compile_tree()
    started = dt.datetime.now().isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="lockgate-side-by-side-") as tmp:
        pooled = measure(datasets, args.rows, args.repeats, Path(tmp), python, log)
    how = {"started": started, "finished": dt.datetime.now().isoformat(timespec="seconds"),
           "repeats": args.repeats, "order": "alternating, one run of each per repeat"}
    ours, theirs = json.loads(out.read_text()), json.loads(tfx_out.read_text())
    for dataset, (mine, other) in pooled.items():
        if dataset == PENGUIN:
            ours["figures"][PENGUIN] = {**mine, "side_by_side": how}
        else:
            key = f"{dataset}_{args.rows}"
            ours["figures"].setdefault(FIGURE[dataset], {})[key] = {**mine, "side_by_side": how}
        for name, figure in other.items():
            theirs["figures"][name] = {**figure, "side_by_side": how}
            theirs.get("notes", {}).pop(name, None)
    for result, path in ((ours, out), (theirs, tfx_out)):
        result["updated"] = how["finished"]
        path.write_text(json.dumps(result, indent=2) + "\n")
    write_results_md(out)
    log(f"wrote {out}, {tfx_out} and bench/RESULTS.md")


if __name__ == "__main__":
    main()
