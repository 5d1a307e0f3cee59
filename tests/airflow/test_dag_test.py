"""``LockgateDAG.test`` (``airflow dags test``) builds one in-process Execution API per run,
serving only the API version the Task SDK speaks.

Each case runs ``airflow dags test`` on a three-task DAG, with a fresh Airflow DB, and counts the
Execution API apps Airflow builds and the versions they serve. A plain DAG is the control:
Airflow 3.2 builds one per task, each for every version it still serves, which is the cost
``LockgateDAG`` removes. The tasks pass values through XCom, so they need the API to work.
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
    app = build()
    print("EXECUTION API BUILT", [v.value for v in app.versions.versions], flush=True)
    return app
execution_api.create_task_execution_api_app = counted
sys.argv = ["airflow", "dags", "test", "three_tasks"]
main()
"""


def dags_test(dag_class: str, root: Path) -> tuple[int, list[str]]:
    """(tasks run, the versions of each Execution API app built) in one `airflow dags test`;
    a failed run fails."""
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
    built = [line.split("EXECUTION API BUILT", 1)[1].strip() for line in output.splitlines()
             if "EXECUTION API BUILT" in line]
    return output.count("[DAG TEST] end task"), built


def test_one_execution_api_serves_every_task_in_the_sdk_version(tmp_path: Path) -> None:
    """The SDK's version, and the one before it that Cadwyn needs for retired routes."""
    from airflow.api_fastapi.execution_api.versions import bundle
    from airflow.sdk.api.client import API_VERSION

    assert bundle.versions[0].value == API_VERSION  # else every version is served
    served = repr([API_VERSION, bundle.versions[1].value])
    assert dags_test("lockgate", tmp_path) == (3, [served])


def test_plain_dags_build_an_api_of_every_version_per_task(tmp_path: Path) -> None:
    from airflow.api_fastapi.execution_api.versions import bundle

    every = repr([version.value for version in bundle.versions])
    assert dags_test("plain", tmp_path) == (3, [every] * 3)


def test_airflow_factory_and_version_bundle_are_restored_after_the_run() -> None:
    from airflow.api_fastapi.execution_api import versions
    from airflow.sdk.execution_time import supervisor

    from pipelines.airflow.dag_test import one_in_process_api

    original, bundle = supervisor.in_process_api_server, versions.bundle
    changes = versions.bundle.versions[0].changes
    with one_in_process_api():
        assert supervisor.in_process_api_server is not original
        api = supervisor.in_process_api_server()
        assert supervisor.in_process_api_server() is api
        assert len(api.app.versions.versions) == 2
        assert all(change._bound_version_bundle is not bundle for change in changes)
    assert supervisor.in_process_api_server is original and versions.bundle is bundle
    assert all(change._bound_version_bundle is bundle for change in changes)


def test_a_bundle_cadwyn_refuses_serves_every_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import cadwyn
    from airflow.api_fastapi.execution_api import versions
    from airflow.sdk.execution_time import supervisor

    from pipelines.airflow.dag_test import one_in_process_api

    bundle = versions.bundle
    changes = bundle.versions[0].changes

    def refused(*args: object, **kwargs: object) -> None:
        raise cadwyn.exceptions.CadwynStructureError("not in this Cadwyn")

    monkeypatch.setattr(cadwyn, "VersionBundle", refused)
    with one_in_process_api():
        api = supervisor.in_process_api_server()
        assert len(api.app.versions.versions) == len(bundle.versions)
        assert all(change._bound_version_bundle is bundle for change in changes)
    assert versions.bundle is bundle
