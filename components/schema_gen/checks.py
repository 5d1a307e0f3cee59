"""SchemaGen's check (its curated ``schema_file`` parses), and the curated schema's features for
the checks of the components wired to it (Trainer, Evaluator).

Parsing is ``components.schema_file``'s, which imports no TensorFlow (about 55 ms on first
use), so ``lockgate validate`` stays cheap.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from components.schema_file import parse_schema_file
from components.schema_gen import SchemaGenParams
from pipelines.sdk import CheckContext, ConfigError, Finding


class SchemaUnreadable(Exception):
    """The curated schema file does not parse as a TFDV ``Schema`` in text format."""


@dataclass(frozen=True)
class CuratedSchema:
    path: Path
    features: tuple[str, ...]

    def unknown(self, what: str, name: str) -> str | None:
        """Why ``name`` (the ``what``, e.g. "label_key") cannot be used, or None if it can."""
        if name in self.features:
            return None
        close = difflib.get_close_matches(name, self.features, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        return (f"{what} {name!r} is not a feature of the schema {self.path}{hint} Its "
                f"features: {', '.join(self.features)}")


def check(params: SchemaGenParams, ctx: CheckContext) -> Iterator[Finding]:
    if not params.schema_file:
        return
    path = ctx.resolve_path(params.schema_file)
    if not path.is_file():
        return  # reported by the user-code check: the file does not exist
    try:
        _features(path, path.stat().st_mtime_ns)
    except SchemaUnreadable as exc:
        yield Finding(("schema_file",), f"{path} is not a TFDV schema in text format "
                      f"(schema.pbtxt): {exc}")


def curated_schema(ctx: CheckContext, port: str = "schema") -> CuratedSchema | None:
    """The curated schema SchemaGen imports for the node's ``port`` input, or None: no SchemaGen
    is wired there, it infers its schema (known only once it runs), or the file is missing or
    broken (SchemaGen's own checks say so)."""
    wired = ctx.upstream.get(port)
    if wired is None:
        return None
    spec, params = wired
    if spec.name != "SchemaGen" or not isinstance(params, SchemaGenParams):
        return None
    if not params.schema_file:
        return None
    # The nodes of a pipeline share its config's folder, so SchemaGen's relative path resolves
    # from this node's context.
    path = ctx.resolve_path(params.schema_file)
    try:
        return CuratedSchema(path, _features(path, path.stat().st_mtime_ns))
    except (OSError, SchemaUnreadable):
        return None


@functools.lru_cache(maxsize=16)
def _features(path: Path, mtime_ns: int) -> tuple[str, ...]:
    """Feature names a tf.Example may carry under the schema: plain, sparse and weighted
    features (``mtime_ns`` keys the cache, so an edited file is read again)."""
    try:
        schema = parse_schema_file(path)
    except ConfigError as exc:
        raise SchemaUnreadable("; ".join(
            f"line {i.line}: {i.message}" if i.line else i.message for i in exc.issues
        )) from None
    names = [f.name for f in schema.feature]
    names += [f.name for f in schema.sparse_feature]
    names += [f.name for f in schema.weighted_feature]
    return tuple(names)
