"""Which files ExampleGen reads: the input pattern, its span and version, and a cheap fingerprint.

Standard library only: the launcher calls ``fingerprint`` before every cache lookup, and a fully
cached run must not import TensorFlow, Beam or pyarrow.

An input is a file, a folder (every regular file in it whose name does not start with ``.`` or
``_``, like ``_SUCCESS`` markers) or a glob (``*``, ``?``, ``[...]``, and ``**`` across folders).
``{SPAN}`` and ``{VERSION}`` stand for decimal numbers; each may appear several times and must
then be the same number everywhere (``data/{SPAN}/day-{SPAN}.csv``). The newest span wins, then
its newest version, unless the params name them. A pattern without ``{SPAN}`` is span 0, one
without ``{VERSION}`` version 0.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.sdk import DataError, LockgateError, config_path

if TYPE_CHECKING:
    from components.example_gen import ExampleGenParams

SPAN = "{SPAN}"
VERSION = "{VERSION}"
_GLOB_CHARS = re.compile(r"[*?\[]")
_TOKENS = re.compile(r"(\{SPAN\}|\{VERSION\}|\*\*/?|\*|\?|\[[^\]/]+\])")


class InputNotFound(DataError):
    """The input, or the span or version the params pin, matches no files. ``param`` names
    the param at fault, so `lockgate validate` can point at its line."""

    def __init__(self, message: str, param: str = "input") -> None:
        super().__init__(message)
        self.param = param


def resolve_files(params: ExampleGenParams, config_dir: Path) -> tuple[list[Path], int, int]:
    """The files to read, sorted, with their span and version.

    Raises ``DataError`` when nothing matches, naming the pattern and what to check.
    """
    pattern = str(config_path(config_dir, params.input))
    has_span, has_version = SPAN in pattern, VERSION in pattern
    if params.span is not None and not has_span:
        raise DataError(
            f"ExampleGen: span {params.span} is set but input {params.input!r} has no {SPAN}; "
            f"put {SPAN} where the span number appears in the path, or remove `span`."
        )
    if params.version is not None and not has_version:
        raise DataError(
            f"ExampleGen: version {params.version} is set but input {params.input!r} has no "
            f"{VERSION}; put {VERSION} where the version number appears, or remove `version`."
        )
    if not (has_span or has_version):
        files = _expand(glob.glob(pattern, recursive=True) if _GLOB_CHARS.search(pattern)
                        else [pattern])
        if not files:
            raise _nothing_matches(params.input, pattern, config_dir)
        return files, 0, 0

    found = _span_versions(pattern)
    spans = sorted({span for span, _ in found})
    if not spans:
        raise _nothing_matches(params.input, pattern, config_dir)
    span = spans[-1] if params.span is None else params.span
    if span not in spans:
        raise InputNotFound(
            f"ExampleGen: span {span} of input {params.input!r} does not exist; the spans found "
            f"are {_listing(spans)}. Set `span` to one of them, or remove it to read the latest.",
            param="span",
        )
    versions = sorted(version for s, version in found if s == span)
    version = versions[-1] if params.version is None else params.version
    if version not in versions:
        raise InputNotFound(
            f"ExampleGen: version {version} of span {span} of input {params.input!r} does not "
            f"exist; its versions are {_listing(versions)}. Set `version` to one of them, or "
            f"remove it to read the latest.",
            param="version",
        )
    files = _expand(found[(span, version)])
    if not files:
        raise InputNotFound(
            f"ExampleGen: span {span} (version {version}) of input {params.input!r} holds no "
            f"files. Put the data files there, or set `span` to another span."
        )
    return files, span, version


def available_spans(params: ExampleGenParams, config_dir: Path) -> list[int]:
    """The spans the input pattern finds now, oldest first ([0] without ``{SPAN}``; [] when
    nothing matches). ``lockgate run --spans`` and the previous-span check use it."""
    pattern = str(config_path(config_dir, params.input))
    if SPAN not in pattern:
        try:
            resolve_files(params.model_copy(update={"span": None}), config_dir)
        except DataError:
            return []
        return [0]
    return sorted({span for span, _ in _span_versions(pattern)})


def _span_versions(pattern: str) -> dict[tuple[int, int], list[str]]:
    """The files matching ``pattern``, by (span, version)."""
    has_span, has_version = SPAN in pattern, VERSION in pattern
    found: dict[tuple[int, int], list[str]] = {}
    regex = _pattern_regex(pattern)
    wildcard = pattern.replace(SPAN, "*").replace(VERSION, "*")
    for candidate in glob.glob(wildcard, recursive=True):
        match = regex.fullmatch(candidate)
        if match:
            key = (int(match["span"]) if has_span else 0,
                   int(match["version"]) if has_version else 0)
            found.setdefault(key, []).append(candidate)
    return found


def fingerprint(params: ExampleGenParams, config_dir: Path) -> str:
    """Cheap fingerprint of the inputs for the cache key: the chosen span and version, and each
    file's path, size and modification time (no file is read).

    When the pattern matches nothing the result names that state instead of raising, so the
    executor runs and fails with its full explanation, recorded on the execution.
    """
    digest = hashlib.blake2b(digest_size=16)
    try:
        files, span, version = resolve_files(params, config_dir)
    except LockgateError as exc:
        digest.update(str(exc).encode())
        return "unresolved-" + digest.hexdigest()
    stats = []
    for path in files:
        st = path.stat()
        stats.append([str(path), st.st_size, st.st_mtime_ns])
    digest.update(json.dumps([span, version, stats]).encode())
    return digest.hexdigest()


def _expand(matches: list[str]) -> list[Path]:
    """Files of the matches: a folder contributes its visible regular files."""
    files: set[Path] = set()
    for match in matches:
        path = Path(match)
        if path.is_dir():
            files.update(
                Path(entry.path) for entry in os.scandir(path)
                if entry.is_file() and not entry.name.startswith((".", "_"))
            )
        elif path.is_file():
            files.add(path)
    return sorted(files)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching exactly what the glob form of ``pattern`` matches, capturing the span
    and version numbers; repeated placeholders must repeat the same number."""
    out: list[str] = []
    seen: set[str] = set()
    for token in _TOKENS.split(pattern):
        if token in (SPAN, VERSION):
            name = "span" if token == SPAN else "version"
            out.append(f"(?P={name})" if name in seen else rf"(?P<{name}>\d+)")
            seen.add(name)
        elif token.startswith("**"):
            out.append("(?:.*/)?" if token.endswith("/") else ".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        elif token.startswith("[") and token.endswith("]") and len(token) > 2:
            body = token[1:-1]  # glob classes are regex classes, except "!" negates
            out.append("[^" + body[1:] + "]" if body.startswith("!") else token)
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def _nothing_matches(value: str, pattern: str, config_dir: Path) -> InputNotFound:
    where = "" if value == pattern else f" (resolved to {pattern})"
    placeholders = (
        f" with a number in place of {SPAN}/{VERSION}" if SPAN in pattern or VERSION in pattern
        else ""
    )
    return InputNotFound(
        f"ExampleGen: input {value!r}{where} matches no files{placeholders}. Check the path "
        f"(relative paths are relative to the config's folder, {config_dir}) and that the "
        f"data has been written there."
    )


def _listing(numbers: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(n) for n in numbers[-limit:])
    return shown if len(numbers) <= limit else f"... {shown}"
