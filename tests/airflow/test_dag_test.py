"""``LockgateDAG.test`` (``airflow dags test``) builds one in-process Execution API per run.

Each case runs ``airflow dags test`` on a three-task DAG, with a fresh Airflow DB, and counts the
Execution API apps Airflow builds. A plain DAG is the control: Airflow 3.2 builds one per task,
which is the cost ``LockgateDAG`` removes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

DAG_FILE = """
import os
from datetime import datetime, UTC
from airflow.sdk import DAG, task
from pipelines.airflow.dag_test import LockgateDAG

dag_class = {"lockgate": LockgateDAG, "plain": DAG}[os.environ["DAG_CLASS"]]
with dag_class(dag_id="three_tasks", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):
    @task
    def one(): return 1
    @task
    def add(x): return x + 1
    add(add(one()))
"""

# `airflow dags test three_tasks`, counting the Execution API apps built on the way.
CLI = """
import sys
from airflow.__main__ import main
from airflow.api_fastapi.execution_api import app as execution_api

build = execution_api.create_task_execution_api_app
def counted():
    print("EXECUTION API BUILT", flush=True)
    return build()
execution_api.create_task_execution_api_app = counted
sys.argv = ["airflow", "dags", "test", "three_tasks"]
main()
"""


def dags_test(dag_class: str, root: Path) -> tuple[int, int]:
    """(tasks run, Execution API apps built) in one `airflow dags test`; a failed run fails."""
    (root / "dags").mkdir()
    (root / "dags" / "three_tasks.py").write_text(DAG_FILE)
    env = {**os.environ, "AIRFLOW_HOME": str(root), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"), "DAG_CLASS": dag_class,
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root}/airflow.db"}
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    done = subprocess.run([sys.executable, "-c", CLI], env=env, cwd=root,
                          capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output.count("[DAG TEST] end task"), output.count("EXECUTION API BUILT")


@pytest.mark.parametrize(("kind", "builds"), [("lockgate", 1), ("plain", 3)])
def test_one_execution_api_serves_every_task(kind: str, builds: int, tmp_path: Path) -> None:
    assert dags_test(kind, tmp_path) == (3, builds)


def test_airflow_factory_is_restored_after_the_run() -> None:
    from airflow.sdk.execution_time import supervisor

    from pipelines.airflow.dag_test import one_in_process_api

    original = supervisor.in_process_api_server
    with one_in_process_api():
        assert supervisor.in_process_api_server is not original
    assert supervisor.in_process_api_server is original
