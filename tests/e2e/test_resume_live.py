"""A ``--resume`` of a run that another process is still executing is refused, and the live run
completes undisturbed: its RUNNING execution is neither marked FAILED nor has its staging
deleted under it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO
from tests.e2e.test_gates import penguin_rows, spans_config, write_span

pytestmark = pytest.mark.e2e


def lockgate(config: Path, home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", str(config), *args],
        cwd=REPO, env={"PATH": "/usr/bin:/bin", "LOCKGATE_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_a_second_resume_of_a_live_run_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LOCKGATE_HOME", str(home))  # the config's store, read from here too
    data = tmp_path / "data"
    write_span(data, 1, penguin_rows())
    config = spans_config(tmp_path / "cfg", data)
    live = lockgate(config, home, "--run-id", "live")
    try:
        store = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # until the live run is inside a node
            if live.poll() is not None:
                raise AssertionError(f"the live run ended first:\n{live.communicate()[0]}")
            if (home / "metadata.sqlite").exists():
                store = store or LineageStore(load_config(config).metadata)
                if any(e.state == "RUNNING" for e in store.run_executions("penguin", "live")):
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the live run never started a node")
        second = lockgate(config, home, "--resume", "live")
        output, _ = second.communicate(timeout=300)
        assert second.returncode == 2, output
        assert "run live of pipeline penguin is being executed right now by pid" in output
        assert f"pid {live.pid} " in output
        live_output, _ = live.communicate(timeout=600)
    finally:
        live.kill()
    assert live.returncode == 0, live_output
    assert store is not None
    executions = store.run_executions("penguin", "live")
    assert [e.state for e in executions] == ["COMPLETE"] * 8
    assert not any("abandoned" in e.message for e in executions)
