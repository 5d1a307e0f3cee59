"""ExampleGen's checks for ``lockgate validate``: the input must match files.

Standard library only, like ``spans``: checks run before anything imports TensorFlow. A pattern
that matches nothing is a data finding (a warning for ``validate``, an error before a run),
since the data may be written after the config; ``span``/``version`` set on a pattern without
their placeholder is a config error, whatever is on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from components.example_gen import ExampleGenParams
from components.example_gen.spans import (
    DATE_PARTS,
    SPAN,
    VERSION,
    InputNotFound,
    SpanNotLanded,
    has_spans,
    resolve_files,
)
from pipelines.sdk import CheckContext, Finding

_SHOWN = 5


def check(params: ExampleGenParams, ctx: CheckContext) -> Iterator[Finding]:
    pattern = str(ctx.resolve_path(params.input))
    bad_pin = False
    for key, value, placeholder in (("span", params.span, SPAN),
                                    ("version", params.version, VERSION)):
        named = has_spans(pattern) if key == "span" else placeholder in pattern
        if value is not None and not named:
            bad_pin = True
            yield Finding((key,), f"{key} {value} is set but input {params.input!r} has no "
                          f"{placeholder}; put {placeholder} where the {key} number appears "
                          f"in the path, or remove `{key}`")
    if bad_pin:
        return
    try:
        resolve_files(params, ctx.config_dir)
    except (InputNotFound, SpanNotLanded) as exc:
        message = str(exc).removeprefix("ExampleGen: ")
        if exc.param == "input":
            message += " " + _searched(pattern)
        yield Finding((exc.param,), message, data=True)


def _searched(pattern: str) -> str:
    """Where the search stopped: the first folder of the pattern's fixed part that does not
    exist, or what the deepest one holds; the difference between a typo and no data yet."""
    fixed = Path(_fixed_prefix(pattern))
    folder = fixed if pattern.endswith(os.sep) or fixed.is_dir() else fixed.parent
    missing = None
    while not folder.is_dir() and folder != folder.parent:
        missing, folder = folder, folder.parent
    if missing is not None:
        return f"The folder {missing} does not exist."
    try:
        names = sorted(e.name for e in os.scandir(folder) if not e.name.startswith("."))
    except OSError:
        return f"The folder {folder} cannot be read."
    if not names:
        return f"The folder {folder} is empty."
    shown = ", ".join(names[:_SHOWN]) + (f", ... ({len(names)} entries)"
                                          if len(names) > _SHOWN else "")
    return f"The folder {folder} holds {shown}."


def _fixed_prefix(pattern: str) -> str:
    """The pattern up to its first wildcard or placeholder."""
    cut = len(pattern)
    for token in ("*", "?", "[", SPAN, VERSION, *DATE_PARTS):
        index = pattern.find(token)
        if index != -1:
            cut = min(cut, index)
    return pattern[:cut]
