"""Reaching a running Airflow from tests: free ports, bounded waits, the REST API."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Api:
    """Airflow's REST API, logged in with the password the simple auth manager generated."""

    def __init__(self, base: str, password_file: Path) -> None:
        import httpx

        [(user, password)] = json.loads(password_file.read_text()).items()
        self.client = httpx.Client(base_url=base, timeout=30)
        token = self.client.post("/auth/token", json={"username": user, "password": password})
        token.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        """The JSON of a GET, or None while the resource does not exist (yet)."""
        response = self.client.get(path, params=params)
        return response.json() if response.status_code == 200 else None

    def trigger(self, dag_id: str, run_id: str) -> None:
        """Switch the DAG on and queue a run of it now, as a user of the REST API does."""
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        self.client.post(f"/api/v2/dags/{dag_id}/dagRuns",
                         json={"dag_run_id": run_id, "logical_date": None}).raise_for_status()

    def finished(self, dag_id: str, run_ids: list[str]) -> dict[str, str] | None:
        """Each run's final state once all of them have one, else None."""
        states = {r: (self.get(f"/api/v2/dags/{dag_id}/dagRuns/{r}") or {}).get("state")
                  for r in run_ids}
        return states if all(s in ("success", "failed") for s in states.values()) else None

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {t["task_id"]: t for t in found["task_instances"]}
