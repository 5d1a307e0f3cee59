"""Content fingerprints of artifacts and user code, for lineage and the cache key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def fingerprint_paths(paths: Iterable[Path], root: Path | None = None) -> str:
    """BLAKE2b over each file's relative name, size and bytes, in sorted order.

    A directory contributes every file below it, so renaming, adding or editing any file
    changes the fingerprint, while the absolute location of ``root`` does not.
    """
    digest = hashlib.blake2b(digest_size=16)
    files: list[tuple[str, Path]] = []
    for path in paths:
        base = root or (path if path.is_dir() else path.parent)
        if path.is_dir():
            files.extend((str(f.relative_to(base)), f) for f in path.rglob("*") if f.is_file())
        elif path.is_file():
            files.append((str(path.relative_to(base)), path))
    for name, file in sorted(files):
        digest.update(f"{name}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint_dir(path: Path) -> str:
    return fingerprint_paths([path], root=path)
