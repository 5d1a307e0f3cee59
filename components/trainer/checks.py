"""The Trainer's check for ``lockgate validate``: its ``label_key`` is a feature of the curated
schema, when SchemaGen imports one (a typo would otherwise surface minutes later, in run_fn)."""

from __future__ import annotations

from collections.abc import Iterator

from components.schema_gen.checks import curated_schema
from components.trainer import TrainerParams
from pipelines.sdk import CheckContext, Finding


def check(params: TrainerParams, ctx: CheckContext) -> Iterator[Finding]:
    schema = curated_schema(ctx)
    if schema is None:
        return
    problem = schema.unknown("label_key", params.label_key)
    if problem:
        yield Finding(("label_key",), problem)
