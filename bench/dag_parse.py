"""Figure 3: how long the scheduler's DAG processor spends importing Lockgate's DAG files.

The DAG processor parses each file in its own process, with Airflow already imported. So each
measurement is a fresh interpreter that imports ``airflow.sdk`` (timed on its own), then one DAG
file (timed: the figure). Every file is measured alone, so no file profits from modules another
one imported; the total is the sum over the shipped files. Also recorded: which heavy libraries
got imported (must be none) and the DAGs each file defined.

Two modes: with a warm bytecode cache (a deployed scheduler; the cache goes to a temp
PYTHONPYCACHEPREFIX, never into the repo) and without one (PYTHONDONTWRITEBYTECODE=1, as in this
dev sandbox: every module is compiled on every import).

    uv run --frozen python -m bench.dag_parse [--runs 7]   # writes bench/results/dag_parse.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAG_FILES = ("lockgate_dags.py", "lockgate_config_errors.py")
HEAVY = ("tensorflow", "apache_beam", "tensorflow_data_validation", "tensorflow_transform",
         "tensorflow_model_analysis", "ml_metadata", "tfx_bsl", "tf_keras", "pyarrow")
GOAL_SECONDS = 0.3

PROBE = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow.sdk
airflow.sdk.DAG, airflow.sdk.BaseOperator, airflow.sdk.Asset  # lazy attributes: load them now
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_file", sys.argv[1])
module = importlib.util.module_from_spec(spec)
error = None
try:
    spec.loader.exec_module(module)
except Exception as exc:  # an import error is a result too (lockgate_config_errors.py)
    error = f"{type(exc).__name__}: {exc}"
t2 = time.perf_counter()
print(json.dumps({
    "airflow_sdk": t1 - t0, "file": t2 - t1, "error": error,
    "dags": sorted(v.dag_id for v in vars(module).values() if isinstance(v, airflow.sdk.DAG)),
    "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY)),
}))
"""


def probe(dag_file: Path, env: dict[str, str]) -> dict[str, Any]:
    """Import ``dag_file`` in a fresh interpreter; its timings, DAG ids and heavy imports."""
    code = f"HEAVY = {HEAVY!r}\n{PROBE}"
    out = subprocess.run([sys.executable, "-c", code, str(dag_file)], env=env, check=True,
                         capture_output=True, text=True, cwd=REPO).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(runs: int = 7) -> dict[str, Any]:
    """The figure: medians (with min and max) per DAG file, both bytecode modes."""
    files = [REPO / "dags" / name for name in DAG_FILES]
    result: dict[str, Any] = {"runs": runs, "goal_s": GOAL_SECONDS, "cpu_count": os.cpu_count()}
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory() as home:
        base = {k: v for k, v in os.environ.items()
                if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
                and not k.startswith("AIRFLOW__")}
        base.update(LOCKGATE_HOME=home, AIRFLOW_HOME=f"{home}/airflow",
                    AIRFLOW__CORE__LOAD_EXAMPLES="False")
        base.pop("LOCKGATE_CONFIG_DIR", None)  # the shipped configs
        modes = {
            "bytecode_cache": {**base, "PYTHONPYCACHEPREFIX": f"{home}/pycache"},
            "no_bytecode_cache": {**base, "PYTHONDONTWRITEBYTECODE": "1"},
        }
        for mode, env in modes.items():
            per_file: dict[str, list[float]] = {f.name: [] for f in files}
            sdk: list[float] = []
            for _ in range(runs + 1):  # the first round warms the OS (and bytecode) cache
                for path in files:
                    found = probe(path, env)
                    per_file[path.name].append(found["file"])
                    sdk.append(found["airflow_sdk"])
                    heavy.update(found["heavy"])
                    result.setdefault("dags", {})[path.name] = found["dags"]
                    result.setdefault("import_errors", {})[path.name] = found["error"]
            result[mode] = {
                "airflow_sdk_import_s": _median(sdk[len(files):]),
                "dag_files_beyond_airflow_s": {
                    name: _median(times[1:]) for name, times in per_file.items()
                },
                "dag_files_min_max_s": {
                    name: [round(min(times[1:]), 4), round(max(times[1:]), 4)]
                    for name, times in per_file.items()
                },
            }
            result[mode]["total_s"] = round(
                sum(result[mode]["dag_files_beyond_airflow_s"].values()), 4
            )
    result["heavy_modules_imported"] = sorted(heavy)
    result["meets_goal"] = (result["bytecode_cache"]["total_s"] <= GOAL_SECONDS
                            and not result["heavy_modules_imported"])
    return result


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "dag_parse.json")
    args = parser.parse_args()
    result = measure(args.runs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
