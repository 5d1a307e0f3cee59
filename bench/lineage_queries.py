"""The lineage queries on a store with 200 runs (goal ≤ 0.5 s each): ``python -m
bench.lineage_queries``.

The store is built without TensorFlow: each run records ten executions (ExampleGen through
Pusher, the penguin pipeline's shape) with their artifacts and events into a real SQLite ML
Metadata store, and every run pushes to a real serving directory, so the queries walk what a
real home of 200 runs holds. Each command is then timed as a whole ``lockgate`` process
(median of 3, with min–max), and the figures replace this benchmark's section of
bench/RESULTS.md and go to bench/results/lineage_queries.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.measure import clean_env, run_process, summary

RUNS = 200
REPEATS = 3
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
RESULTS_JSON = REPO / "bench" / "results" / "lineage_queries.json"
HEADING = "## 8. Lineage queries, 200 runs (goal ≤ 0.5 s each)"
GOAL_S = 0.5


def build(home: Path, runs: int = RUNS) -> dict[str, Any]:
    """``runs`` runs of pipeline ``penguin`` in ``home``; what the timed commands ask about."""
    from pipelines.component import Artifact
    from tests.pipelines.lineage.records import Penguin, spec

    # The nodes the recorder does not make, so each run has the penguin pipeline's ten.
    chain = [
    ("statistics_gen", spec("StatisticsGen", {"examples": "Examples"},
                            {"statistics": "ExampleStatistics"})),
    ("schema_gen", spec("SchemaGen", {"statistics": "ExampleStatistics"}, {"schema": "Schema"})),
    ("example_validator", spec("ExampleValidator", {"statistics": "ExampleStatistics",
                                                    "schema": "Schema"},
                               {"anomalies": "ExampleAnomalies"})),
    ("transform", spec("Transform", {"examples": "Examples", "schema": "Schema"},
                       {"transform_graph": "TransformGraph"})),
    ("bulk_inferrer", spec("BulkInferrer", {"examples": "Examples"},
                           {"inference_result": "InferenceResult"})),
    ("infra_validator", spec("InfraValidator", {"examples": "Examples"},
                             {"blessing": "InfraBlessing"})),
    ]
    os.environ["LOCKGATE_HOME"] = str(home)
    lineage = Penguin()
    model = None
    for number in range(1, runs + 1):
        run_id = f"local-{number:04d}"
        model = lineage.run(run_id, number, home / "data", 0.9 + number / (10 * runs))
        [gen] = [e for e in lineage.store.run_executions("penguin", run_id)
                 if e.node_id == "example_gen"]
        made: dict[str, list[Artifact]] = dict(lineage.store.outputs_of(gen.id))
        for node, node_spec in chain:
            inputs = {port: made[port] for port in node_spec.inputs if port in made}
            outputs = {port: Artifact(kind, "") for port, kind in node_spec.outputs.items()}
            made.update(lineage.record(node_spec, node, run_id, inputs, outputs))
    assert model is not None
    return {"run": f"local-{runs // 2:04d}", "model": model.id}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lockgate-lineage-bench-") as scratch:
        home = Path(scratch)
        asked = build(home)
        env = clean_env(LOCKGATE_HOME=str(home))
        commands = {
            "runs penguin": ["runs", "penguin"],
            "runs (every pipeline) --json": ["runs", "--json"],
            "show RUN_ID": ["show", asked["run"]],
            "lineage serving penguin": ["lineage", "serving", "penguin"],
            "lineage impact penguin --span 1": ["lineage", "impact", "penguin", "--span", "1"],
            "lineage ARTIFACT_ID": ["lineage", str(asked["model"])],
        }
        figures = {}
        for name, argv in commands.items():
            walls = [run_process([sys.executable, "-m", "pipelines.cli", *argv], env, REPO)
                     .wall_s for _ in range(REPEATS)]
            figures[name] = summary(walls)
            print(f"{name}: {figures[name]['median']:.3f} s", flush=True)
        floor = [run_process([sys.executable, "-c", "import pipelines.lineage.commands, "
                              "ml_metadata.metadata_store"], env, REPO).wall_s
                 for _ in range(REPEATS)]
        figures["import only (floor)"] = summary(floor)
    write(figures)
    return 0


def write(figures: dict[str, dict[str, Any]]) -> None:
    """The JSON, and this section of RESULTS.md replaced in place (``bench/report.py`` renders
    it too, from the JSON, when it rewrites the whole file)."""
    RESULTS_JSON.write_text(json.dumps({"runs": RUNS, "figures": figures}, indent=2) + "\n")
    text = RESULTS.read_text()
    block = "\n".join(section(figures))
    start = text.find(HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + block + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(text)


def section(figures: dict[str, dict[str, Any]]) -> list[str]:
    rows = [f"| `lockgate {name}` | {f['median']:.3f} s ({f['min']:.3f}–{f['max']:.3f}) | "
            f"{'yes' if f['median'] <= GOAL_S else 'NO'} |"
            for name, f in figures.items() if not name.startswith("import")]
    floor = figures["import only (floor)"]
    return [
        HEADING, "",
        f"`python -m bench.lineage_queries`: a store of {RUNS} runs of ten executions each "
        "(recorded without TensorFlow), every run pushed; whole `lockgate` processes, median "
        f"of {REPEATS} (min–max). Importing the query code and ml-metadata alone takes "
        f"{floor['median']:.3f} s ({floor['min']:.3f}–{floor['max']:.3f}).", "",
        "| command | wall time | ≤ 0.5 s |", "|---|---|---|", *rows, "",
    ]


if __name__ == "__main__":
    sys.exit(main())
