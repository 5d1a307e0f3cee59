"""Loading and calling the pipeline author's code (preprocessing_fn, run_fn, ...).

User code lives outside the framework and is named by a file path in the config. Every way it
can fail, from a missing file to an exception deep inside the author's function, surfaces as a
``UserCodeError`` naming the node and the module, so a failed run says whose code broke.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipelines.caching.user_code import module_root
from pipelines.component import ExecutionContext
from pipelines.errors import UserCodeError

_LOADS = itertools.count(1)  # makes every load's module name unique
_NEIGHBOURS: set[str] = set()  # local modules that authors' files imported


@dataclass(frozen=True)
class UserFunction:
    """A function from the author's module. Calling it wraps whatever it raises in a
    UserCodeError that names the node and the module.

    It pickles as (node, module path, name, digest) and loads the file again when unpickled:
    tf.Transform traces preprocessing_fn inside Beam workers, which cannot import a module that
    exists only in the launching process. The digest catches a file edited meanwhile.
    """

    node: str
    module: str  # the module's file path, as shown in errors
    name: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    digest: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.fn(*args, **kwargs)
        except UserCodeError:
            raise
        except Exception as exc:
            raise UserCodeError(self.node, self.module, exc) from exc

    def __reduce__(self) -> tuple[Any, ...]:
        return (_load_again, (self.node, self.module, self.name, self.digest))


def load_module(path: Path, node: str) -> ModuleType:
    """Import the Python file at ``path`` under a fresh, unique module name.

    A fresh name per load means an edited file is picked up by a long-lived process (the local
    runner, an Airflow worker) and two pipelines' ``model.py`` files never shadow each other.
    """
    module_path = str(path)
    if not path.is_file():
        raise UserCodeError(node, module_path, FileNotFoundError(
            f"no such file: {path}; check the component's module_file param "
            "(relative paths are relative to the config's folder)"
        ))
    _import_local_modules_from(module_root(path))
    name = f"lockgate_user_{_identifier(path.stem)}_{next(_LOADS)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserCodeError(node, module_path, ImportError(f"cannot import {path} as Python"))
    module = importlib.util.module_from_spec(spec)
    # Registered only while it executes (dataclasses look their module up then): afterwards
    # no pickler may take it for an importable module, which other processes could not import.
    sys.modules[name] = module
    before = set(sys.modules)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # SyntaxError, ImportError, or anything raised at import time
        raise UserCodeError(node, module_path, exc) from exc
    finally:
        del sys.modules[name]
        _remember_neighbours(before, module_root(path))
    return module


def _import_local_modules_from(root: Path) -> None:
    """Let the module import its neighbours (``import helpers``), as ``python model.py`` would,
    and forget the neighbours earlier loads imported, so an edited helper is read again."""
    folder = str(root.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    for name in _NEIGHBOURS:
        sys.modules.pop(name, None)
    _NEIGHBOURS.clear()


def _remember_neighbours(before: set[str], root: Path) -> None:
    """The modules that executing an author's file imported from the author's own folder."""
    folder = str(root.resolve()) + "/"
    _NEIGHBOURS.update(
        name for name in set(sys.modules) - before
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(folder)
    )


def get_function(module: ModuleType, name: str, node: str) -> UserFunction:
    """The callable ``name`` from a module loaded by ``load_module``."""
    module_path = str(module.__file__)
    fn = getattr(module, name, None)
    if fn is None:
        defined = sorted(
            n for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_")
        )
        raise UserCodeError(node, module_path, AttributeError(
            f"the module defines no '{name}'; functions it defines: {defined or 'none'}"
        ))
    if not callable(fn):
        raise UserCodeError(node, module_path, TypeError(
            f"'{name}' is a {type(fn).__name__}, not a function"
        ))
    return UserFunction(node, module_path, name, fn, _digest(Path(module_path)))


def load_user_function(ctx: ExecutionContext, module_file: str, name: str) -> UserFunction:
    """Load function ``name`` from the config's ``module_file`` for the node ``ctx`` runs."""
    module = load_module(ctx.resolve_path(module_file), ctx.node_id)
    return get_function(module, name, ctx.node_id)


def _load_again(node: str, module: str, name: str, digest: str) -> UserFunction:
    function = get_function(load_module(Path(module), node), name, node)
    if digest and function.digest != digest:
        raise UserCodeError(node, module, RuntimeError(
            "the file changed while the node was running; run the node again"
        ))
    return function


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
