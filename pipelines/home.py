"""Where Lockgate keeps its state: the SQLite MLMD file, pipeline roots and the serving dir."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".lockgate"


def lockgate_home() -> Path:
    """``$LOCKGATE_HOME``, or ``./.lockgate``, made absolute so every process agrees on it."""
    return Path(os.environ.get("LOCKGATE_HOME") or DEFAULT_HOME).resolve()
