"""Shared fixtures. Every test gets its own LOCKGATE_HOME so runs never see each other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.postgres"]

# Heavy libraries read these at import time; set them before any test imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def lockgate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "lockgate-home"
    monkeypatch.setenv("LOCKGATE_HOME", str(home))
    monkeypatch.delenv("LOCKGATE_MLMD_KIND", raising=False)
    return home


@pytest.fixture
def penguin_config() -> Path:
    return REPO / "configs" / "penguin.yaml"
