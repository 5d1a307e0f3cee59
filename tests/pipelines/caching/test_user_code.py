"""Which files a module's code fingerprint covers: the module and the local modules it
imports (found by reading its imports), never its unrelated neighbours."""

from __future__ import annotations

from pathlib import Path

from pipelines.caching.user_code import code_files, module_root, user_code_fingerprint


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_flat_folder_follows_imports_only(tmp_path: Path) -> None:
    main = write(tmp_path / "preprocessing.py", "import helpers\nimport json\n")
    write(tmp_path / "helpers.py", "from constants import SCALE\n")
    write(tmp_path / "constants.py", "SCALE = 2\n")
    write(tmp_path / "model.py", "import helpers\n")
    assert code_files(main) == sorted(
        [main, tmp_path / "helpers.py", tmp_path / "constants.py"]
    )


def test_imports_inside_functions_count(tmp_path: Path) -> None:
    main = write(tmp_path / "steps.py", "def run(ctx):\n    import scoring\n    return 1\n")
    write(tmp_path / "scoring.py", "X = 1\n")
    assert tmp_path / "scoring.py" in code_files(main)


def test_a_package_resolves_absolute_and_relative_imports(tmp_path: Path) -> None:
    write(tmp_path / "my_pipeline" / "__init__.py", "")
    steps = write(tmp_path / "my_pipeline" / "steps.py",
                  "from . import features\nfrom .util.io import read\n"
                  "from my_pipeline import metrics\n")
    write(tmp_path / "my_pipeline" / "features.py", "")
    write(tmp_path / "my_pipeline" / "metrics.py", "")
    write(tmp_path / "my_pipeline" / "unused.py", "")
    write(tmp_path / "my_pipeline" / "util" / "__init__.py", "")
    write(tmp_path / "my_pipeline" / "util" / "io.py", "def read(): ...\n")
    assert module_root(steps) == tmp_path
    package = tmp_path / "my_pipeline"
    assert code_files(steps) == sorted([
        steps, package / "__init__.py", package / "features.py", package / "metrics.py",
        package / "util" / "__init__.py", package / "util" / "io.py",
    ])


def test_the_fingerprint_ignores_where_the_folder_is(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "steps.py", "import helpers\n")
    write(tmp_path / "a" / "helpers.py", "X = 1\n")
    second = write(tmp_path / "b" / "steps.py", "import helpers\n")
    write(tmp_path / "b" / "helpers.py", "X = 1\n")
    assert user_code_fingerprint([first]) == user_code_fingerprint([second])
    write(tmp_path / "b" / "helpers.py", "X = 2\n")
    assert user_code_fingerprint([first]) != user_code_fingerprint([second])


def test_a_cycle_and_a_syntax_error_do_not_break_it(tmp_path: Path) -> None:
    main = write(tmp_path / "a.py", "import b\n")
    write(tmp_path / "b.py", "import a\nimport broken\n")
    write(tmp_path / "broken.py", "def (:\n")
    assert code_files(main) == sorted([main, tmp_path / "b.py", tmp_path / "broken.py"])
