"""Find the component a config entry names: a registered name, or an import path.

- A **registered name** (``Trainer``) is an entry point in the group ``lockgate.components``.
  Lockgate's standard components register there from this project's ``pyproject.toml``,
  exactly as a third-party package would from its own; the framework imports none of them.
- An **import path** (``my_pipeline.steps:bulk_score``) names a ``ComponentSpec`` in a module.
  The config's folder is searched first, then the environment, so an author keeps the module
  beside the config.

Every way this can go wrong raises ``ComponentNotFound`` with a message that names the module
and says what to do; the config loader adds the file and line of the entry.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import logging
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pipelines.component import ComponentDefinitionError, ComponentSpec
from pipelines.errors import LockgateError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "lockgate.components"
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
# A spec module imported at DAG-parse time must not pull these in (the scheduler parses often).
HEAVY_MODULES = ("tensorflow", "apache_beam", "tensorflow_data_validation",
                 "tensorflow_transform", "tensorflow_model_analysis", "ml_metadata", "tf_keras")

log = logging.getLogger(__name__)


class ComponentNotFound(LockgateError):
    """A config names a component that cannot be found or loaded."""


@functools.cache
def registered() -> dict[str, EntryPoint]:
    """The ``lockgate.components`` entry points of every installed package, by name."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def resolve(reference: str, config_dir: Path | None = None) -> ComponentSpec:
    """The spec that ``reference`` names, for a config in ``config_dir``."""
    if ":" in reference:
        return _by_import_path(reference, (config_dir or Path.cwd()).resolve())
    return spec_for(reference)


@functools.cache
def spec_for(name: str) -> ComponentSpec:
    """The spec registered as ``name``."""
    found = registered()
    if name not in found:
        close = difflib.get_close_matches(name, list(found), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ComponentNotFound(
            f"unknown component '{name}'; {hint}registered components: "
            f"{', '.join(sorted(found)) or 'none'}. A component of your own is named by import "
            "path, e.g. `component: my_pipeline.steps:bulk_score`"
        )
    entry_point = found[name]
    try:
        spec = entry_point.load()
    except Exception as exc:
        raise ComponentNotFound(
            f"component '{name}' is registered as {entry_point.value}, which failed to load: "
            f"{_exception_line(exc)}"
        ) from exc
    if not isinstance(spec, ComponentSpec):
        raise ComponentNotFound(
            f"the entry point '{name}' = {entry_point.value} is a {type(spec).__name__}, "
            "not a ComponentSpec"
        )
    if spec.name != name:
        raise ComponentNotFound(
            f"the entry point '{name}' = {entry_point.value} holds component '{spec.name}'; "
            "register it under its own name"
        )
    return spec


_by_path: dict[tuple[str, Path], ComponentSpec] = {}


def _by_import_path(reference: str, config_dir: Path) -> ComponentSpec:
    key = (reference, config_dir)
    if key not in _by_path:
        _by_path[key] = _load_import_path(reference, config_dir)
    return _by_path[key]


def _load_import_path(reference: str, config_dir: Path) -> ComponentSpec:
    if not IMPORT_PATH.match(reference):
        raise ComponentNotFound(
            f"'{reference}' is not an import path; write 'package.module:name', e.g. "
            "my_pipeline.steps:bulk_score"
        )
    module_name, _, attribute = reference.partition(":")
    module = _import(module_name, config_dir)
    value = getattr(module, attribute, None)
    if value is None:
        specs = sorted(n for n, v in vars(module).items() if isinstance(v, ComponentSpec))
        raise ComponentNotFound(
            f"module {module_name} ({module.__file__}) defines no '{attribute}'; components it "
            f"defines: {', '.join(specs) or 'none'}"
        )
    if not isinstance(value, ComponentSpec):
        what = "function" if callable(value) else type(value).__name__
        raise ComponentNotFound(
            f"{reference} is a {what}, not a component; decorate the function with "
            "@component(...) from pipelines.sdk, or assign a ComponentSpec to it"
        )
    return dataclasses.replace(value, module_file=str(module.__file__))


def _import(module_name: str, config_dir: Path) -> ModuleType:
    """Import ``module_name`` with ``config_dir`` searched first; refuse a namesake elsewhere."""
    if str(config_dir) not in sys.path:
        sys.path.insert(0, str(config_dir))
    before = set(sys.modules)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(f"{exc.name}.")):
            raise ComponentNotFound(
                f"no module named '{exc.name}' (looked in {config_dir}, the config's folder, "
                "then in the installed packages); check the spelling, or put the module "
                "beside the config"
            ) from exc
        raise _import_failed(module_name, exc) from exc
    except ComponentDefinitionError as exc:
        raise ComponentNotFound(f"module {module_name}: {exc}") from exc
    except Exception as exc:  # SyntaxError, NameError, anything raised at import time
        raise _import_failed(module_name, exc) from exc
    _check_not_shadowed(module, config_dir)
    heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & set(HEAVY_MODULES))
    if heavy:
        log.warning("importing %s loaded %s; move heavy imports inside the executor function, "
                    "or every DAG parse pays for them", module_name, ", ".join(heavy))
    return module


def _check_not_shadowed(module: ModuleType, config_dir: Path) -> None:
    """A module of the same name found elsewhere first (another pipeline's ``steps``)."""
    top = sys.modules[module.__name__.split(".")[0]]
    origin = Path(top.__file__ or "").resolve()
    local = config_dir / top.__name__.split(".")[0]
    expected = [local.with_suffix(".py"), local / "__init__.py"]
    if any(candidate.is_file() for candidate in expected) and origin not in expected:
        raise ComponentNotFound(
            f"module '{top.__name__}' was already imported from {origin}, not from "
            f"{config_dir}; two pipelines use the same module name, so give this one a "
            "distinct package name (e.g. the pipeline's name)"
        )


def _import_failed(module_name: str, exc: BaseException) -> ComponentNotFound:
    return ComponentNotFound(
        f"module {module_name} failed to import: {_exception_line(exc)}"
    )


def _exception_line(exc: BaseException) -> str:
    """``Type: message (file:line)`` at the deepest frame, where the author's mistake is."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    elif frames:
        where = f" ({frames[-1].filename}:{frames[-1].lineno})"
    else:
        where = ""
    return f"{type(exc).__name__}: {exc}{where}"
