"""Timing primitives for the benchmark harness: a whole process's wall time and peak RSS, and
the median/min/max summary every figure is reported with."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessRun:
    wall_s: float
    peak_rss_mb: float
    output: str


def run_process(cmd: Sequence[str], env: dict[str, str], cwd: Path) -> ProcessRun:
    """Run ``cmd`` to completion; peak RSS comes from GNU time, which sees only this child."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        done = subprocess.run(
            [time_bin, "-f", "%M", "-o", rss.name, *cmd], env=env, cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        wall = time.perf_counter() - started
        max_kb = int(rss.read().strip().splitlines()[-1])
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}")
    return ProcessRun(wall_s=wall, peak_rss_mb=max_kb / 1024, output=done.stdout)


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def summarise_runs(runs: Sequence[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per-key summaries of several runs' {name: seconds} dicts (keys present in every run)."""
    keys = [k for k in runs[0] if all(k in r for r in runs)]
    return {k: summary([r[k] for r in runs]) for k in keys}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCKGATE_", "AIRFLOW"))}
    env.update(extra)
    return env
