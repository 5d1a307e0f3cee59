"""Which files ExampleGen reads: the input pattern, its span and version, and a cheap fingerprint.

Standard library only: the launcher calls ``fingerprint`` before every cache lookup, and a fully
cached run must not import TensorFlow, Beam or pyarrow.

An input is a file, a folder (every regular file in it whose name does not start with ``.`` or
``_``, like ``_SUCCESS`` markers) or a glob (``*``, ``?``, ``[...]``, and ``**`` across folders).
``{SPAN}`` and ``{VERSION}`` stand for decimal numbers; each may appear several times and must
then be the same number everywhere (``data/{SPAN}/day-{SPAN}.csv``). Instead of ``{SPAN}``, a
date, ``{YYYY}``, ``{MM}`` and ``{DD}`` (``data/{YYYY}-{MM}-{DD}/posts.csv``), names the span:
its days since 1970-01-01. The newest span wins, then its newest version, unless the params
name them. A pattern without a span is span 0, one without ``{VERSION}`` version 0.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.sdk import DataError, LockgateError, config_path, date_of_span, span_of_date

if TYPE_CHECKING:
    from components.example_gen import ExampleGenParams

SPAN = "{SPAN}"
VERSION = "{VERSION}"
# A date in the path names the span (pipelines.span_dates: days since 1970-01-01).
DATE_PARTS = {"{YYYY}": ("year", 4), "{MM}": ("month", 2), "{DD}": ("day", 2)}
_GLOB_CHARS = re.compile(r"[*?\[]")
_TOKENS = re.compile(
    r"(\{SPAN\}|\{VERSION\}|\{YYYY\}|\{MM\}|\{DD\}|\*\*/?|\*|\?|\[[^\]/]+\])")


def is_dated(pattern: str) -> bool:
    return any(token in pattern for token in DATE_PARTS)


def has_spans(pattern: str) -> bool:
    """Whether the path names spans: by ``{SPAN}`` or by a date."""
    return SPAN in pattern or is_dated(pattern)


def with_date(pattern: str, day: date) -> str:
    """The pattern with its date placeholders filled in: where a day's files are expected."""
    return (pattern.replace("{YYYY}", f"{day.year:04d}").replace("{MM}", f"{day.month:02d}")
            .replace("{DD}", f"{day.day:02d}"))


class SpanNotLanded(LockgateError):
    """The day a run is for has no files yet. Not a DataError: under Airflow the task is
    retried (its ``retries``), and picks the files up once they land."""

    param = "span"


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
    has_span, has_version = has_spans(pattern), VERSION in pattern
    if SPAN in pattern and is_dated(pattern):
        raise DataError(
            f"ExampleGen: input {params.input!r} has both {SPAN} and a date; a span is named "
            f"one way: keep {SPAN}, or {{YYYY}}/{{MM}}/{{DD}}."
        )
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
    if span not in spans and is_dated(pattern):
        day = date_of_span(span)
        raise SpanNotLanded(
            f"ExampleGen: no data for {day.isoformat()} (span {span}) yet: expected "
            f"{with_date(pattern, day)}. The newest day found is "
            f"{date_of_span(spans[-1]).isoformat()}. A scheduled run retries until the files "
            f"land (the DAG's retries); or run another day (lockgate run --date)."
        )
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
    if not has_spans(pattern):
        try:
            resolve_files(params.model_copy(update={"span": None}), config_dir)
        except DataError:
            return []
        return [0]
    return sorted({span for span, _ in _span_versions(pattern)})


def _span_versions(pattern: str) -> dict[tuple[int, int], list[str]]:
    """The files matching ``pattern``, by (span, version)."""
    has_version = VERSION in pattern
    found: dict[tuple[int, int], list[str]] = {}
    regex = _pattern_regex(pattern)
    wildcard = pattern.replace(SPAN, "*").replace(VERSION, "*")
    for token in DATE_PARTS:
        wildcard = wildcard.replace(token, "*")
    for candidate in glob.glob(wildcard, recursive=True):
        match = regex.fullmatch(candidate)
        if match:
            span = _span_of(match, pattern)
            if span is None:
                continue  # digits in date places that are no date, e.g. 20261340
            key = (span, int(match["version"]) if has_version else 0)
            found.setdefault(key, []).append(candidate)
    return found


def _span_of(match: re.Match[str], pattern: str) -> int | None:
    if SPAN in pattern:
        return int(match["span"])
    if not is_dated(pattern):
        return 0
    parts = {name: int(match[name]) for token, (name, _) in DATE_PARTS.items()
             if token in pattern}
    try:  # a pattern may leave out a part: {YYYY}/{MM} is the first of each month
        return span_of_date(date(parts["year"], parts.get("month", 1), parts.get("day", 1)))
    except (KeyError, ValueError):
        return None


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
        elif token in DATE_PARTS:
            name, width = DATE_PARTS[token]
            out.append(f"(?P={name})" if name in seen else rf"(?P<{name}>\d{{{width}}})")
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
