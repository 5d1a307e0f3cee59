"""A production-shaped Airflow deployment started the way an operator starts it: `make
airflow-postgres` or `make airflow-celery`, on free ports, in a fresh LOCKGATE_HOME, with the
shipped penguin and pupdates configs; stopped by the matching `make ...-stop`."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from pipelines.config.models import PostgresMetadata
from pipelines.metadata.store import LineageStore
from tests.airflow.api import Api, free_port
from tests.e2e.configs import REPO, config_variant

PASSWORD = "lockgate-services"


@dataclass
class Cluster:
    shape: str
    home: Path
    env: dict[str, str]
    banner: str
    pg_port: int

    @cached_property
    def api(self) -> Api:
        return Api(f"http://localhost:{self.env['AIRFLOW_PORT']}",
                   self.airflow_home / "simple_auth_manager_passwords.json.generated")

    @property
    def airflow_home(self) -> Path:
        return self.home / f"airflow-{self.shape}"

    def store(self) -> LineageStore:
        return LineageStore(PostgresMetadata(
            kind="postgresql", host="127.0.0.1", port=self.pg_port, database="lockgate_mlmd",
            user="lockgate", password_env="LOCKGATE_MLMD_PASSWORD"))

    def lockgate(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `lockgate` CLI with the deployment's environment (PostgreSQL MLMD)."""
        return subprocess.run([str(REPO / ".venv" / "bin" / "lockgate"), *args], env=self.env,
                              capture_output=True, text=True, timeout=300, cwd=REPO)

    def pids(self) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in (self.airflow_home / "pids").glob("*.pid")}

    def stop(self) -> subprocess.CompletedProcess[str]:
        """`make airflow-<shape>-stop`; safe to repeat."""
        return subprocess.run(["make", f"airflow-{self.shape}-stop"], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)


def start_cluster(shape: str, edit_configs: Callable[[Path], None],
                  **extra_env: str) -> Iterator[Cluster]:
    """Yield a started deployment of ``shape``; stop it (and check it stopped) afterwards."""
    # Under /tmp with 0755: PostgreSQL runs as the `postgres` OS user and must reach its data.
    home = Path(tempfile.mkdtemp(prefix=f"lockgate-{shape}-"))
    home.chmod(0o755)
    configs = home / "configs"
    configs.mkdir()
    edit_configs(configs)
    pg_port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "LOCKGATE")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "LOCKGATE_MLMD_KIND": "postgresql", "LOCKGATE_MLMD_HOST": "127.0.0.1",
        "LOCKGATE_MLMD_PORT": str(pg_port),
        "LOCKGATE_HOME": str(home), "LOCKGATE_CONFIG_DIR": str(configs),
        "LOCKGATE_MLMD_PASSWORD": PASSWORD, "LOCKGATE_PG_PORT": str(pg_port),
        "LOCKGATE_REDIS_PORT": str(free_port()), "AIRFLOW_PORT": str(free_port()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "lockgate-services-pycache"),
        **extra_env,
    })
    started = subprocess.run(["make", f"airflow-{shape}"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=900)
    cluster = Cluster(shape, home, env, started.stdout, pg_port)
    try:
        logs = "".join(f"\n--- {p.name}\n{p.read_text()[-2000:]}"
                       for p in (cluster.airflow_home / "logs").glob("*.log"))
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:] + logs
        yield cluster
    finally:
        cluster.stop()


def shipped_configs(directory: Path, edit: Callable[[str, dict[str, Any]], None]) -> None:
    """penguin and pupdates as shipped (paths made absolute), after ``edit(name, config)``."""
    for name in ("penguin", "pupdates"):
        config_variant(directory, partial(edit, name), source=name)


def assert_lineage_consistent(store: LineageStore, pipeline: str, run_ids: list[str]) -> None:
    """Each run: one execution per node that completed (or was a cache hit), a dead attempt
    marked FAILED beside its retry; one artifact per output port; and no live artifact that a
    finished execution did not publish, or whose files are gone."""
    for run_id in run_ids:
        executions = store.run_executions(pipeline, run_id)
        assert executions, run_id
        done = [e for e in executions if e.state in ("COMPLETE", "CACHED")]
        assert {e.state for e in executions} <= {"COMPLETE", "CACHED", "FAILED"}, run_id
        nodes = [e.node_id for e in done]
        assert len(nodes) == len(set(nodes)), (run_id, nodes)
        assert {e.node_id for e in executions} == set(nodes), run_id  # every failure retried
        for execution in done:
            for port, artifacts in store.outputs_of(execution.id).items():
                assert len(artifacts) == 1, (run_id, execution.node_id, port)
    mlmd, pb = store.mlmd, store.pb
    finished = {e.id for e in mlmd.get_executions()
                if e.last_known_state in (pb.Execution.COMPLETE, pb.Execution.CACHED)}
    live = [a for a in mlmd.get_artifacts() if a.state == pb.Artifact.LIVE]
    producer = {e.artifact_id: e.execution_id for e in
                mlmd.get_events_by_artifact_ids([a.id for a in live])
                if e.type == pb.Event.OUTPUT}
    assert not [a.uri for a in live if producer.get(a.id) not in finished]
    assert not [a.uri for a in live if not Path(a.uri).exists()]


def assert_stops_cleanly(cluster: Cluster) -> None:
    """`make airflow-<shape>-stop` ends every Airflow process group and the services."""
    pids = cluster.pids()
    assert pids
    stopped = cluster.stop()
    assert stopped.returncode == 0, stopped.stderr
    for name, pid in pids.items():
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"{name} (process group {pid}) still runs after the stop")
    ports = [cluster.pg_port] + ([int(cluster.env["LOCKGATE_REDIS_PORT"])]
                                 if cluster.shape == "celery" else [])
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
