"""``${VAR}`` and ``${VAR:-default}`` expansion inside YAML string values.

Expansion runs on parsed string scalars, not on the raw text, so a value containing ``:`` or
``#`` cannot change the YAML's structure. ``$${`` is a literal ``${``.

A value that is one reference and nothing else, and expands to ``null`` (or ``~``), is null:
``span: ${SPAN:-null}`` reads the latest span unless ``SPAN=3`` pins it, so one config serves
both. Numbers need nothing special: ``port: ${PGPORT:-5432}`` validates as the number 5432.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from pipelines.home import lockgate_home

_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Path_ = tuple[str | int, ...]
_NULLS = ("null", "Null", "NULL", "~")


def _builtin_defaults() -> dict[str, str]:
    # LOCKGATE_HOME always resolves, to the same absolute path every Lockgate process uses.
    return {"LOCKGATE_HOME": str(lockgate_home())}


def expand(
    data: Any,
    on_missing: Callable[[Path_, str], None],
    env: Mapping[str, str] | None = None,
    path: Path_ = (),
) -> Any:
    """Return ``data`` with references expanded; report unset variables to ``on_missing``."""
    environ = {**_builtin_defaults(), **(os.environ if env is None else env)}
    if isinstance(data, dict):
        return {k: expand(v, on_missing, environ, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand(v, on_missing, environ, (*path, i)) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        on_missing(path, name)
        return ""

    expanded = _REF.sub(substitute, data)
    whole = _REF.fullmatch(data)
    if whole is not None and whole.group(0) != "$${" and expanded in _NULLS:
        return None
    return expanded
