"""`make bench`: every Lockgate figure of the benchmark issue, written to
bench/results/<date>-<host>.json, then bench/RESULTS.md regenerated (with TFX ratios when
`make bench-tfx` has written bench/results/<date>-<host>-tfx.json).

    uv run --frozen python -m bench.run [--figures penguin,scale] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import lockgate_runs
from bench.report import write_results_md

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("tensorflow", "tensorflow-data-validation", "tensorflow-transform",
            "tensorflow-model-analysis", "tfx-bsl", "ml-metadata", "apache-beam",
            "apache-airflow", "pyarrow")


def machine() -> dict[str, Any]:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "host": socket.gethostname(),
        "cores": os.cpu_count(),
        "memory_gb": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in PACKAGES}


def compile_tree() -> None:
    """Byte-compile this tree's own packages, as installing them would. Environments that set
    PYTHONDONTWRITEBYTECODE (this sandbox does) would otherwise make every run of a fresh
    worktree compile them again, and time it."""
    import compileall

    repo = RESULTS.parents[1]
    for package in ("pipelines", "components", "dags", "examples", "bench"):
        compileall.compile_dir(repo / package, quiet=1)


def figures(repeats: int, work: Path, log: Callable[[str], None]) -> dict[str, Callable[[], Any]]:
    from bench import airflow_overhead, dag_parse, example_gen_limit

    return {
        "penguin": lambda: lockgate_runs.penguin(repeats, work, log),
        "dag_parse": lambda: dag_parse.measure(max(repeats, 5)),
        "airflow": lambda: airflow_overhead.measure(repeats, work, log),
        "scale": lambda: {
            f"pupdates_{rows}": lockgate_runs.scale("pupdates", rows, repeats, work, log)
            for rows in (100_000, 1_000_000)
        },
        # The second shape (issue 17): 30 floats and a binary label, no slices.
        "numeric": lambda: {
            f"numeric_{rows}": lockgate_runs.scale("numeric", rows, repeats, work, log)
            for rows in (100_000, 1_000_000)
        },
        "example_gen_limit": lambda: example_gen_limit.measure(
            lockgate_runs.datagen_data("pupdates", 1_000_000, work), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", help="comma-separated subset (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="default: bench/results/<date>-<host>.json")
    args = parser.parse_args()

    def log(line: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    out = args.out or RESULTS / f"{dt.date.today()}-{socket.gethostname()}.json"
    result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    result.update(system="lockgate", machine=machine(), versions=versions(),
                  repeats=args.repeats)
    result.setdefault("figures", {})
    compile_tree()
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        available = figures(args.repeats, Path(tmp), log)
        chosen = args.figures.split(",") if args.figures else list(available)
        unknown = set(chosen) - set(available)
        if unknown:
            parser.error(f"unknown figures {sorted(unknown)}; choose from {sorted(available)}")
        for name in chosen:
            log(f"figure {name}")
            started = time.perf_counter()
            result["figures"][name] = available[name]()
            log(f"figure {name} done in {time.perf_counter() - started:.0f}s")
            result["updated"] = dt.datetime.now().isoformat(timespec="seconds")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
    write_results_md(out)
    log(f"wrote {out} and bench/RESULTS.md")


if __name__ == "__main__":
    main()
