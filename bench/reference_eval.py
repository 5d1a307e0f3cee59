"""Figure 7: what the Evaluator's reference set costs, as a ratio to the Evaluator's own time.

Penguins resampled to ``--rows`` rows per eval split (two spans, so the reference is another
span's eval split of the same size, as in a daily pipeline). Two models are trained once on
span 1 by the real Transform and Trainer. The real Evaluator executor then judges the candidate
against the baseline on span 2, with ``reference: {kind: none}`` (what it did before) and with
the default ``baseline_eval`` reference (span 1's eval split), alternately, after one untimed
warm-up. Reported: the medians, the extra seconds and extra / without.

    uv run --frozen python -m bench.reference_eval [--rows 100000] [--repeats 3]

It writes ``bench/results/reference_eval/latest.json`` and section 7 of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.beam_modes import PENGUIN_CSV, REPO, context, run_component
from bench.measure import summary
from bench.report import RESULTS_MD, reference_eval_section
from pipelines.beam_mode import beam_args_for
from pipelines.component import Artifact
from pipelines.launcher import prepare_heavy_runtime

RESULT = Path(__file__).resolve().parent / "results" / "reference_eval" / "latest.json"
SECTION = "## 7. Reference evaluation"
EXAMPLES = REPO / "examples" / "penguin"
METRICS = [  # the shipped penguin config's
    {"class_name": "SparseCategoricalAccuracy",
     "threshold": {"lower": 0.6, "change": {"direction": "higher_is_better",
                                            "absolute": -1e-10}}},
    {"class_name": "ExampleCount"},
]
log = logging.getLogger("bench.reference_eval")


def resampled_csv(out: Path, rows: int, seed: int) -> str:
    with PENGUIN_CSV.open() as handle:
        reader = csv.DictReader(handle)
        source = list(reader)
    picks = random.Random(seed).choices(source, k=rows)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(source[0]))
        writer.writeheader()
        writer.writerows(picks)
    return str(out)


def span_examples(work: Path, eval_rows: int, seed: int) -> Artifact:
    """ExampleGen on a resampled CSV whose eval split (1 of 3 parts) has ~``eval_rows`` rows."""
    path = resampled_csv(work / f"penguins-{seed}.csv", eval_rows * 3, seed)
    ctx = context("ExampleGen", work, {"input": path, "splits": {"train": 2, "eval": 1}}, {},
                  beam_args_for([], {}))
    run_component(ctx, "ExampleGen")
    return ctx.outputs["examples"]


def models(work: Path, examples: Artifact, schema: Artifact) -> list[Artifact]:
    """Two models of span 1: the baseline (300 steps) and the candidate (100 steps)."""
    inputs = {"examples": [examples], "schema": [schema]}
    transform = context("Transform", work, {"module_file": str(EXAMPLES / "preprocessing.py")},
                        inputs, beam_args_for([], inputs))
    run_component(transform, "Transform")
    trained = []
    for model_id, steps in ((1, 300), (2, 100)):
        ctx = context("Trainer", work, {
            "module_file": str(EXAMPLES / "model.py"), "label_key": "species",
            "train_steps": steps, "eval_steps": 10,
            "hyperparameters": {"hidden_units": [8, 8], "learning_rate": 0.01},
        }, {"examples": [transform.outputs["transformed_examples"]],
            "transform_graph": [transform.outputs["transform_graph"]], "schema": [schema]},
            beam_args_for([], {}))
        run_component(ctx, "Trainer")
        model = ctx.outputs["model"]
        model.id = model_id
        trained.append(model)
    return trained


def time_evaluator(work: Path, inputs: dict[str, list[Artifact]], kind: str) -> dict[str, Any]:
    ctx = context("Evaluator", work, {"label_key": "species", "metrics": METRICS,
                                      "reference": {"kind": kind}},
                  inputs, beam_args_for([], inputs))
    started = time.perf_counter()
    result = run_component(ctx, "Evaluator")
    seconds = time.perf_counter() - started
    assert (kind == "none") != (ctx.outputs["evaluation"].path / "reference").is_dir()
    return {"wall_s": seconds, "tfma_s": float(result.properties["eval_seconds"]),
            "message": result.message}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per eval split")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    prepare_heavy_runtime()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {
        "benchmark": "Evaluator reference set",
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "eval_rows": args.rows,
        "repeats": args.repeats,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with tempfile.TemporaryDirectory(prefix="bench-reference-") as tmp:
        work = Path(tmp)
        span_1, span_2 = span_examples(work, args.rows, 1), span_examples(work, args.rows, 2)
        results["reference_rows"] = json.loads(span_1.properties["split_rows"])["eval"]
        results["eval_rows"] = json.loads(span_2.properties["split_rows"])["eval"]
        schema = Artifact("Schema", str(work / "schema"))
        schema.path.mkdir()
        shutil.copy(REPO / "schemas" / "penguin" / "schema.pbtxt", schema.path / "schema.pbtxt")
        baseline, candidate = models(work, span_1, schema)
        span_1.id, span_2.id = 101, 102
        inputs = {"examples": [span_2], "model": [candidate], "baseline_model": [baseline],
                  "schema": [schema], "reference_examples": [span_1]}
        print("warm-up", file=sys.stderr)
        time_evaluator(work, inputs, "none")
        runs: dict[str, list[dict[str, Any]]] = {"none": [], "baseline_eval": []}
        for _ in range(args.repeats):
            for kind, done in runs.items():
                done.append(time_evaluator(work, inputs, kind))
                print(f"  {kind}: {done[-1]['wall_s']:.2f} s", file=sys.stderr)
    for kind, done in runs.items():
        results[kind] = {"wall_s": summary([r["wall_s"] for r in done], digits=2),
                         "tfma_s": summary([r["tfma_s"] for r in done], digits=2)}
    results["message_with_reference"] = runs["baseline_eval"][-1]["message"]
    without = results["none"]["wall_s"]["median"]
    extra = results["baseline_eval"]["wall_s"]["median"] - without
    results["extra_s"] = round(extra, 2)
    results["extra_ratio"] = round(extra / without, 2)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n")
    update_results_md(results)
    print(json.dumps(results, indent=2))
    return 0


def update_results_md(results: dict[str, Any]) -> None:
    """Replace section 7 of RESULTS.md in place, or insert it before any later section;
    ``bench/report.py`` renders the same section from the JSON."""
    lines = [*RESULTS_MD.read_text().rstrip().splitlines(), ""]
    section = reference_eval_section(results)
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION)), None)
    if start is not None:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")),
                   len(lines))
    else:
        later = [i for i, line in enumerate(lines)
                 if (m := re.match(r"## (\d+)\.", line)) and int(m.group(1)) > 7]
        start = end = later[0] if later else len(lines)
    lines[start:end] = section
    RESULTS_MD.write_text("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    sys.exit(main())
