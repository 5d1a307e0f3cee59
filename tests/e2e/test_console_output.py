"""What `lockgate run` prints is signal: no native plugin-registration ERROR lines, no Google
FutureWarnings, no tracebacks at exit, one level per log line, and no staging paths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.configs import REPO, config_variant

pytestmark = pytest.mark.e2e


def test_a_run_prints_no_library_noise(tmp_path: Path) -> None:
    config = config_variant(tmp_path)
    env = {**os.environ, "LOCKGATE_HOME": str(tmp_path / "home")}
    for name in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "GLOG_minloglevel"):
        env.pop(name, None)  # as a user's shell has them: unset
    done = subprocess.run([str(REPO / ".venv" / "bin" / "lockgate"), "run", str(config)],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "OK penguin" in output and "example_gen: execution 1 started" in output
    for noise in ("Unable to register cu", "FutureWarning", "Exception ignored",
                  "INFO:lockgate", ".staging-", "Traceback"):
        assert noise not in output, f"{noise!r} in:\n{output[-4000:]}"
