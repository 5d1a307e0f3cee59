"""The layers hold: the framework never imports its plug-ins, components and user code reach
the framework only through ``pipelines.sdk``, and no subpackages import each other in a cycle.

The contracts live in pyproject.toml (``[tool.importlinter]``) and ``make lint`` runs them too;
this test keeps them from being skipped, and adds user code, which is not a package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

USER_CODE = [*REPO.glob("examples/*/*.py"), *REPO.glob("tests/e2e/custom_pipeline/**/*.py")]


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def lockgate_imports(path: Path) -> set[str]:
    """The framework and component modules that ``path`` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        found |= {n for n in names if n.split(".")[0] in ("pipelines", "components")}
    return found


def test_user_code_imports_only_the_public_api() -> None:
    assert len(USER_CODE) >= 5
    offenders = {
        str(path.relative_to(REPO)): sorted(imports - {"pipelines.sdk"})
        for path in USER_CODE if (imports := lockgate_imports(path)) - {"pipelines.sdk"}
    }
    assert offenders == {}
