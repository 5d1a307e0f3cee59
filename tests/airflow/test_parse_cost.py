"""Parsing the DAG files must stay cheap: the scheduler's DAG processor does it constantly.

Checked in a fresh interpreter, as the DAG processor runs each parse in a new process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.configs import REPO

HEAVY = ("tensorflow", "apache_beam", "tensorflow_data_validation", "tensorflow_transform",
         "tensorflow_model_analysis", "ml_metadata", "tfx_bsl", "tf_keras", "pyarrow")
PROBE = """
import importlib.util, json, sys, time
import airflow.sdk
start = time.perf_counter()
dags = []
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"probe{len(dags)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags += [v.dag_id for v in vars(module).values() if isinstance(v, airflow.sdk.DAG)]
seconds = time.perf_counter() - start
print(json.dumps({"dags": dags, "seconds": seconds, "modules": sorted(sys.modules)}))
"""


def test_dag_files_import_no_heavy_library(lockgate_home: Path) -> None:
    files = [str(REPO / "dags" / name) for name in ("lockgate_dags.py",
                                                    "lockgate_config_errors.py")]
    env = {**os.environ, "LOCKGATE_HOME": str(lockgate_home)}
    out = subprocess.run([sys.executable, "-c", PROBE, *files], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert "penguin" in probe["dags"]  # the files really built DAGs
    loaded = {m.split(".")[0] for m in probe["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    # bench/dag_parse.py measures this properly; here only a gross regression fails, since
    # this sandbox compiles every module on import (PYTHONDONTWRITEBYTECODE) on shared cores.
    assert probe["seconds"] < 3.0


def test_a_custom_component_config_parses_without_heavy_imports(
    lockgate_home: Path, tmp_path: Path
) -> None:
    """An author's component module is imported at every parse: ours keeps TensorFlow inside
    its executor, so the DAG processor never loads it."""
    import shutil

    shutil.copytree(REPO / "tests" / "e2e" / "custom_pipeline", tmp_path / "configs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "LOCKGATE_HOME": str(lockgate_home), "PENGUIN_CSV": "/no/such.csv",
           "LOCKGATE_CONFIG_DIR": str(tmp_path / "configs")}
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "dags" / "lockgate_dags.py")],
                         env=env, check=True, capture_output=True, text=True, timeout=120).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["dags"] == ["penguin_custom"]
    assert "penguin_steps.summary" in probe["modules"]
    loaded = {m.split(".")[0] for m in probe["modules"]}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
