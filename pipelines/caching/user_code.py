"""Fingerprints of the author's code that a component runs: the file and what it imports.

A module's fingerprint covers the module and the local modules it imports, directly or not,
found by reading its ``import`` statements (``ast``, nothing is executed). "Local" means a file
under the module's root: its own folder, or, when that folder is a package, the folder above
the top package. So editing ``model.py`` does not change the fingerprint of ``preprocessing.py``
beside it, while editing a ``helpers.py`` that ``preprocessing.py`` imports does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from pipelines.fingerprint import fingerprint_paths


def module_root(path: Path) -> Path:
    """The folder that ``path``'s imports are resolved against (a ``sys.path`` entry)."""
    root = path.parent
    while (root / "__init__.py").is_file():
        root = root.parent
    return root


def code_files(path: Path) -> list[Path]:
    """``path`` and, for a Python module, every local module it imports, sorted."""
    if path.suffix != ".py" or not path.is_file():
        return [path]
    root = module_root(path)
    found: set[Path] = set()
    pending = [path.resolve()]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        pending.extend(p for p in _local_imports(current, root.resolve()) if p not in found)
    return sorted(found)


def user_code_fingerprint(paths: Iterable[Path]) -> str:
    """Fingerprint of every file behind ``paths``; a missing file still yields a stable value,
    so the executor, not the cache, reports it."""
    # Names are taken relative to each module's root, so moving the repo keeps the cache.
    return "-".join(fingerprint_paths(code_files(p), root=module_root(p)) for p in paths)


def code_file_fingerprints(paths: Iterable[Path]) -> dict[str, str]:
    """Each file behind ``paths`` and its own fingerprint (``fingerprint_paths([file])``), for
    lineage: which file of the code that made an artifact differs from another's."""
    found: dict[str, str] = {}
    for path in paths:
        for file in code_files(path):
            if file.is_file():
                found[str(file)] = fingerprint_paths([file])
    return found


def _local_imports(path: Path, root: Path) -> set[Path]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return set()  # the import itself will report it
    package = _package_parts(path, root)
    files: set[Path] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                files |= _module_files(root, alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level <= len(
                    package) + 1 else []
            else:
                base = []
            parts = base + (node.module.split(".") if node.module else [])
            files |= _module_files(root, parts)
            for alias in node.names:  # `from pkg import mod` may name a submodule
                files |= _module_files(root, [*parts, alias.name], leaf_only=True)
    return files


def _package_parts(path: Path, root: Path) -> list[str]:
    """The dotted package ``path`` is in, relative to ``root`` (empty for a top-level file)."""
    try:
        return list(path.parent.relative_to(root).parts)
    except ValueError:
        return []


def _module_files(root: Path, parts: list[str], leaf_only: bool = False) -> set[Path]:
    """The files importing ``parts`` runs under ``root``: each package's ``__init__`` and the
    module itself. Nothing when the module is not under ``root`` (the stdlib, installed ones)."""
    if not parts:
        return set()
    files: set[Path] = set()
    folder = root
    for depth, part in enumerate(parts, start=1):
        module, package = folder / f"{part}.py", folder / part / "__init__.py"
        last = depth == len(parts)
        if package.is_file():
            if last or not leaf_only:
                files.add(package)
            folder = folder / part
        elif module.is_file() and last:
            files.add(module)
        else:
            return files if not leaf_only else set()
    return files
