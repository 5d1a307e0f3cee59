"""One Airflow installation for e2e tests: its own AIRFLOW_HOME, SQLite DB and LOCKGATE_HOME,
running this repo's ``dags/`` over a config folder of the test's own."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config.models import SqliteMetadata
from pipelines.metadata.store import ExecutionRecord, LineageStore
from tests.e2e.configs import REPO

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
# The subprocesses share one bytecode cache, so Airflow, TensorFlow and Beam compile once.
PYCACHE = Path(tempfile.gettempdir()) / "lockgate-test-pycache"


@dataclass
class Site:
    """One Airflow installation (its own AIRFLOW_HOME and SQLite DB) running Lockgate's dags/."""

    root: Path
    env: dict[str, str]

    @property
    def airflow_home(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"])

    @property
    def lockgate_home(self) -> Path:
        return Path(self.env["LOCKGATE_HOME"])

    @property
    def config_dir(self) -> Path:
        return Path(self.env["LOCKGATE_CONFIG_DIR"])

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)

    def db(self, query: str, *params: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.airflow_home / "airflow.db")) as db:
            return db.execute(query, params).fetchall()

    def store(self) -> LineageStore:
        return LineageStore(SqliteMetadata(path=str(self.lockgate_home / "metadata.sqlite")))

    def executions(self, run_id: str, pipeline: str = "penguin") -> list[ExecutionRecord]:
        return self.store().run_executions(pipeline, run_id)

    def task_log(self, run_id: str, task_id: str, dag_id: str = "penguin") -> str:
        [path] = (self.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
                  / f"task_id={task_id}").glob("attempt=*.log")
        return path.read_text()

    def served_versions(self) -> list[str]:
        base = self.lockgate_home / "serving" / "penguin"
        return sorted(p.name for p in base.iterdir()) if base.is_dir() else []


def make_site(root: Path, lockgate_home: Path | None = None) -> Site:
    for name in ("airflow", "configs"):
        (root / name).mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "AIRFLOW_HOME": str(root / "airflow"),
        "LOCKGATE_HOME": str(lockgate_home or root / "lockgate"),
        "LOCKGATE_CONFIG_DIR": str(root / "configs"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root}/airflow/airflow.db",
    })
    return Site(root, env)


