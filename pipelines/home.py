"""Where Lockgate keeps its state: the SQLite MLMD file, pipeline roots and the serving dir."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".lockgate"


def lockgate_home() -> Path:
    """``$LOCKGATE_HOME``, or ``./.lockgate``, made absolute so every process agrees on it."""
    return Path(os.environ.get("LOCKGATE_HOME") or DEFAULT_HOME).resolve()


def not_writable(paths: list[Path]) -> str | None:
    """Why Lockgate cannot write where it must (a read-only mount, a directory of another
    user), found before anything is written, or None. Each path is probed at its nearest
    existing directory, with a file created and removed: that is what running will do."""
    import errno
    import tempfile

    for path in dict.fromkeys(paths):
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            with tempfile.TemporaryFile(dir=probe, prefix=".lockgate-write-check-"):
                pass
        except OSError as exc:
            why = "is on a read-only file system" if exc.errno == errno.EROFS else (
                f"is not writable ({exc.strerror})")
            return (f"{path} {why}: Lockgate writes its ML Metadata store, artifacts and run "
                    f"locks under LOCKGATE_HOME ({lockgate_home()}). Make it writable, or point "
                    "LOCKGATE_HOME at a writable directory; nothing was written.")
    return None
