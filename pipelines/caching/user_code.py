"""Fingerprints of the pipeline author's code that a component runs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipelines.fingerprint import fingerprint_paths


def code_files(path: Path) -> list[Path]:
    """A Python module brings its sibling modules (it may import them); other files stand alone."""
    if path.suffix == ".py" and path.parent.is_dir():
        return sorted(p for p in path.parent.glob("*.py") if p.is_file())
    return [path]


def user_code_fingerprint(paths: Iterable[Path]) -> str:
    """Fingerprint of every file behind ``paths``; a missing file still yields a stable value,
    so the executor, not the cache, reports it."""
    # Names are taken relative to each module's folder, so moving the repo keeps the cache.
    return "-".join(fingerprint_paths(code_files(p), root=p.parent) for p in paths)
