"""Which Beam DirectRunner mode should StatisticsGen use on this machine? Times the real
StatisticsGen executor on the penguin data and on a pupdates span, in the in-memory mode with
one worker and in the multi-processing mode with two, and prints the medians as JSON.

    uv run --frozen python -m bench.beam_modes [--rows 100000] [--repeats 3] [--out FILE]

Each dataset is first written by the real ExampleGen executor. One untimed warm-up run per
dataset keeps the one-time cost of importing TensorFlow and TFDV out of the figures; the
multi-processing mode's worker start-up is part of its cost and is timed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import summary
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.launcher import executor_of, prepare_heavy_runtime
from pipelines.registry import spec_for

REPO = Path(__file__).resolve().parents[1]
PENGUIN_CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
MODES = {
    "in_memory_1": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
    "multi_processing_2": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
}
log = logging.getLogger("bench.beam_modes")


def context(component: str, work: Path, params: dict[str, Any],
            inputs: dict[str, list[Artifact]], beam_args: list[str]) -> ExecutionContext:
    spec = spec_for(component)
    outputs = {}
    for name, kind in spec.outputs.items():
        out = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
        outputs[name] = Artifact(type=kind, uri=str(out))
    return ExecutionContext(
        pipeline_name="bench", pipeline_root=work, node_id=component.lower(), run_id="bench",
        params=spec.params.model_validate(params), inputs=inputs, outputs=outputs,
        beam_args=beam_args, config_dir=REPO / "configs", log=log,
    )


def run_component(ctx: ExecutionContext, component: str) -> ExecutorResult:
    result: ExecutorResult = executor_of(spec_for(component))(ctx)
    return result


def write_examples(work: Path, csv: str, **params: Any) -> tuple[Artifact, int]:
    """The Examples artifact of ``csv`` written by the real ExampleGen, and its row count."""
    ctx = context("ExampleGen", work, {"input": csv, **params}, {}, MODES["in_memory_1"])
    run_component(ctx, "ExampleGen")
    examples = ctx.outputs["examples"]
    rows = sum(json.loads(examples.properties["split_rows"]).values())
    return examples, rows


def pupdates_csv(work: Path, rows: int) -> str:
    out = work / "pupdates-data"
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "datagen", "pupdates", "--rows", str(rows),
         "--spans", "1", "--out", str(out)],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )
    [csv] = sorted(out.glob("span-*/posts.csv"))
    return str(csv)


def time_statistics(work: Path, examples: Artifact, beam_args: list[str]) -> float:
    ctx = context("StatisticsGen", work, {}, {"examples": [examples]}, beam_args)
    started = time.perf_counter()
    run_component(ctx, "StatisticsGen")
    return time.perf_counter() - started


def bench_dataset(work: Path, examples: Artifact, rows: int, repeats: int) -> dict[str, Any]:
    time_statistics(work, examples, MODES["in_memory_1"])  # warm-up: imports, caches
    figures: dict[str, Any] = {"rows": rows}
    for mode, beam_args in MODES.items():
        seconds = [time_statistics(work, examples, beam_args) for _ in range(repeats)]
        figures[mode] = summary(seconds, digits=2)
        print(f"  {mode}: {figures[mode]['runs']} s", file=sys.stderr)
    fastest = min(MODES, key=lambda m: figures[m]["median"])
    figures["fastest"] = fastest
    figures["multi_over_in_memory"] = round(
        figures["multi_processing_2"]["median"] / figures["in_memory_1"]["median"], 2
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="pupdates rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    prepare_heavy_runtime()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {
        "benchmark": "StatisticsGen DirectRunner modes",
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "repeats": args.repeats,
        "modes": MODES,
        "datasets": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-beam-modes-") as tmp:
        work = Path(tmp)
        datasets = {
            "penguin": lambda: write_examples(work, str(PENGUIN_CSV)),
            f"pupdates_{args.rows}": lambda: write_examples(
                work, pupdates_csv(work, args.rows), max_bad_row_fraction=0.01
            ),
        }
        for name, make in datasets.items():
            print(f"{name}:", file=sys.stderr)
            examples, rows = make()
            results["datasets"][name] = bench_dataset(work, examples, rows, args.repeats)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
