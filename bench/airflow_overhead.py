"""Figure 4: what Airflow adds to a pipeline run. ``airflow dags test penguin`` against
``lockgate run configs/penguin.yaml``, each on a fresh Lockgate home (and a fresh, migrated
Airflow DB, whose migration is not timed), same environment and bytecode cache.

Besides the two wall times, the figure splits Airflow's side into the components' own time
(from MLMD, as for `lockgate run`) and the rest: Airflow's import, DAG parse, DB writes and
task bookkeeping.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.lockgate_runs import lockgate_run, node_seconds
from bench.measure import clean_env, run_process, summary
from tests.e2e.configs import REPO, config_variant

AIRFLOW = str(Path(sys.executable).with_name("airflow"))

# Measured beside the figure (2026-12-07, py-spy on `airflow dags test penguin`) and written by
# hand: where Airflow's time outside the components goes, and what was cut.
NOTES = [
    "- Where Airflow's time outside the components goes (py-spy, 2026-12-07): importing Airflow's "
    "CLI, 2.8 s; importing the Execution API's modules when the first task starts, 0.9 s; "
    "Cadwyn generating the in-process Execution API's routers on the first request, 2.15 s for "
    "the eight API versions Airflow serves, now 0.65 s, since `LockgateDAG.test` serves only "
    "the version of the Task SDK in the same process (and the one before it, which Cadwyn "
    "requires; `pipelines/airflow/dag_test.py`); then about 0.1 s of task bookkeeping per task.",
    "- Side by side on the same commit with and without that change (this harness, medians of "
    "3, 2026-12-07): Airflow's time outside the components 8.78 s before, 6.44 s after. The "
    "wall-time ratio moved less than the components' own run-to-run spread (17 to 21 s) here.",
    "- Why 1.25× is out of reach: the CLI import and the first task's API import alone are "
    "3.7 s, a fifth of the components' 18 s, and are Airflow's own.",
]


def airflow_env(root: Path, config_dir: Path) -> dict[str, str]:
    """Airflow's environment. ``PYTHONPATH``: the DAG file imports ``pipelines`` from this
    tree, not from wherever the shared venv's editable install points (a bench worktree)."""
    return clean_env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        AIRFLOW_HOME=str(root / "airflow"),
        LOCKGATE_HOME=str(root / "lockgate"),
        LOCKGATE_CONFIG_DIR=str(config_dir),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{root}/airflow/airflow.db",
    )


def dags_test(root: Path, config_dir: Path) -> tuple[float, float, dict[str, float]]:
    """Wall time, peak RSS and per-node seconds of one `airflow dags test penguin`."""
    env = airflow_env(root, config_dir)
    (root / "airflow").mkdir(parents=True)
    run_process([AIRFLOW, "db", "migrate"], env, root)
    run = run_process([AIRFLOW, "dags", "test", "penguin"], env, root)
    config = config_dir / "penguin.yaml"
    [run_id] = _run_ids(config, root / "lockgate")
    return run.wall_s, run.peak_rss_mb, node_seconds(config, root / "lockgate", run_id)


def _run_ids(config: Path, home: Path) -> list[str]:
    from bench.lockgate_runs import lockgate_home
    from pipelines.loading import load_config
    from pipelines.metadata.store import LineageStore

    with lockgate_home(home):
        store = LineageStore(load_config(config).metadata)
        runs = store.mlmd.get_contexts_by_type("pipeline_run")
    return [c.name.removeprefix("penguin.") for c in runs]


def measure(repeats: int, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    config_dir = work / "airflow-configs"
    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_variant(config_dir)  # the shipped penguin config, paths made absolute
    airflow_s, airflow_rss, airflow_nodes, local_s, local_nodes = [], [], [], [], []
    for i in range(repeats):
        wall, rss, nodes = dags_test(work / f"airflow-{i}", config_dir)
        airflow_s.append(wall)
        airflow_rss.append(rss)
        airflow_nodes.append(sum(nodes.values()))
        run, nodes = lockgate_run(config, work / f"airflow-local-{i}", "local")
        local_s.append(run.wall_s)
        local_nodes.append(sum(nodes.values()))
        log(f"airflow {i + 1}/{repeats}: dags test {wall:.1f}s, lockgate run {run.wall_s:.1f}s")
    dags, local = summary(airflow_s), summary(local_s)
    return {
        "nodes": len(nodes),
        "dags_test_s": dags,
        "dags_test_peak_rss_mb": summary(airflow_rss, digits=1),
        "lockgate_run_s": local,
        "ratio": round(dags["median"] / local["median"], 3),
        "components_s": {"airflow": summary(airflow_nodes), "lockgate_run": summary(local_nodes)},
        "outside_components_s": {
            "airflow": summary([w - c for w, c in zip(airflow_s, airflow_nodes, strict=True)]),
            "lockgate_run": summary([w - c for w, c in zip(local_s, local_nodes, strict=True)]),
        },
    }
