"""A real PostgreSQL server for tests, started from Debian's package by infra/postgres.sh."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "postgres.sh"
PASSWORD = "lockgate-test"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Under /tmp, not pytest's 0700 tmp dirs: the server runs as the `postgres` OS user.
    data = Path(tempfile.mkdtemp(prefix="lockgate-pg-"))
    port = free_port()
    env = {"LOCKGATE_MLMD_PASSWORD": PASSWORD, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    started = subprocess.run(["bash", str(SCRIPT), "start", str(data), str(port)],
                             capture_output=True, text=True, env=env, timeout=600)
    if started.returncode == 3:  # the script's code for "cannot be installed here"
        pytest.skip(f"PostgreSQL unavailable: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    try:
        yield PostgresServer("127.0.0.1", port, "lockgate", PASSWORD)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(data)], capture_output=True, env=env)
        shutil.rmtree(data, ignore_errors=True)
