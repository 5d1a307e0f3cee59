"""Read YAML safely and remember the line of every key, so errors can say ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

from pipelines.errors import ConfigError, ConfigIssue

KeyPath = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_with_lines(text: str, file: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse ``text`` with ``yaml.safe_load`` and map each key path to its 1-based line."""
    try:
        # One parse, by LibYAML when PyYAML has it (the DAG processor parses every config on
        # every pass): the node tree gives the lines, and the same tree is constructed as
        # yaml.safe_load would.
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        issue = ConfigIssue(file=file, line=line, key="", message=f"invalid YAML: {problem}")
        raise ConfigError([issue]) from exc
    lines: dict[KeyPath, int] = {}
    if root is not None:
        _walk(root, (), lines, set(), file)
    return data, lines


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], seen: set[int],
          file: str) -> None:
    # An alias is the same node met twice. Refused outright: nested aliases (a "billion laughs")
    # expand exponentially in everything that walks the config after the parse.
    if id(node) in seen:
        raise ConfigError([ConfigIssue(  # at the alias's key (the node's mark is the anchor)
            file=file, line=line_of(path, lines) or node.start_mark.line + 1, key=dotted(path),
            message="YAML anchors and aliases (&name, *name) are not allowed in a Lockgate "
            "config: write the value out, or take it from the environment with ${VAR}",
        )])
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            lines[key_path] = key_node.start_mark.line + 1
            _walk(value_node, key_path, lines, seen, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, seen, file)


def dotted(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(path: KeyPath, lines: dict[KeyPath, int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor that appears in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None

