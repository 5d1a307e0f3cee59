"""Loading the pipeline author's module and blaming it, by node and path, when it fails."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest

from pipelines.errors import UserCodeError
from pipelines.user_code import get_function, load_module, load_user_function
from tests.helpers import executor_context


def write(path: Path, source: str) -> Path:
    path.write_text(source)
    return path


def load_error(path: Path, name: str = "run_fn") -> UserCodeError:
    with pytest.raises(UserCodeError) as info:
        get_function(load_module(path, "trainer"), name, "trainer")
    assert info.value.node == "trainer"
    assert info.value.module == str(path)
    assert str(path) in str(info.value) and "'trainer'" in str(info.value)
    return info.value


def test_loads_a_function_relative_to_the_config_folder(tmp_path: Path) -> None:
    write(tmp_path / "model.py", "SCALE = 3\ndef run_fn(x):\n    return x * SCALE\n")
    ctx = executor_context("Transform", tmp_path, params={"module_file": "model.py"},
                           config_dir=tmp_path)
    fn = load_user_function(ctx, "model.py", "run_fn")
    assert fn(2) == 6
    assert fn.module == str(tmp_path / "model.py")
    assert fn.node == "transform"


def test_module_can_define_dataclasses(tmp_path: Path) -> None:
    # dataclasses look their module up in sys.modules while the class is being created.
    path = write(tmp_path / "hp.py", (
        "from dataclasses import dataclass\n"
        "@dataclass\nclass HP:\n    units: int = 8\n"
        "def run_fn():\n    return HP().units\n"
    ))
    assert get_function(load_module(path, "trainer"), "run_fn", "trainer")() == 8


def test_every_load_sees_the_current_file(tmp_path: Path) -> None:
    path = write(tmp_path / "model.py", "def run_fn():\n    return 1\n")
    first = get_function(load_module(path, "trainer"), "run_fn", "trainer")
    write(path, "def run_fn():\n    return 2\n")
    second = get_function(load_module(path, "trainer"), "run_fn", "trainer")
    assert (first(), second()) == (1, 2)


def test_missing_file(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.py")
    assert isinstance(error.cause, FileNotFoundError)
    assert "module_file" in str(error)


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "model.py", "x = 1\ndef run_fn(:\n    pass\n"))
    assert isinstance(error.cause, SyntaxError)
    assert "line 2" in str(error)


def test_import_error(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "model.py", "import no_such_package_xyz\n"))
    assert isinstance(error.cause, ImportError)
    assert "no_such_package_xyz" in str(error)


def test_exception_at_import_time(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "model.py", "raise RuntimeError('boom at import')\n"))
    assert isinstance(error.cause, RuntimeError)
    assert "boom at import" in str(error)


def test_missing_function_lists_the_ones_defined(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "model.py", "def train(args):\n    pass\n"))
    assert isinstance(error.cause, AttributeError)
    assert "'run_fn'" in str(error) and "['train']" in str(error)


def test_name_that_is_not_a_function(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "model.py", "run_fn = 42\n"))
    assert isinstance(error.cause, TypeError)


def test_call_wraps_what_the_function_raises(tmp_path: Path) -> None:
    path = write(tmp_path / "model.py", "def run_fn(args):\n    return 1 / 0\n")
    fn = get_function(load_module(path, "trainer"), "run_fn", "trainer")
    with pytest.raises(UserCodeError) as info:
        fn(None)
    assert isinstance(info.value.cause, ZeroDivisionError)
    assert info.value.__cause__ is info.value.cause
    assert str(path) in str(info.value)


def test_pickles_by_path_for_other_processes(tmp_path: Path) -> None:
    """Beam workers unpickle user functions in processes that never loaded the module."""
    path = write(tmp_path / "prep.py", "def preprocessing_fn(x):\n    return x + 1\n")
    fn = get_function(load_module(path, "transform"), "preprocessing_fn", "transform")
    assert not any(m.startswith("lockgate_user_prep") for m in sys.modules)
    again = pickle.loads(pickle.dumps(fn))
    assert again(1) == 2
    assert (again.node, again.module, again.name) == ("transform", str(path), "preprocessing_fn")


def test_unpickling_an_edited_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "prep.py", "def preprocessing_fn(x):\n    return x + 1\n")
    shipped = pickle.dumps(get_function(load_module(path, "transform"), "preprocessing_fn",
                                        "transform"))
    write(path, "def preprocessing_fn(x):\n    return x + 2\n")
    with pytest.raises(UserCodeError, match="changed while the node was running"):
        pickle.loads(shipped)
