"""SchemaGen's executor: import a curated schema.pbtxt, or infer one from a split's statistics.

An imported schema is copied byte for byte, comments included, so the artifact a data engineer
opens reads exactly like the reviewed file in ``schemas/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.schema_gen import SchemaGenParams
from pipelines.sdk import (
    ConfigError,
    ConfigIssue,
    DataError,
    ExecutionContext,
    ExecutorResult,
    layout,
)

_KEY = "SchemaGen.params.schema_file"


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, SchemaGenParams)
    target = Path(ctx.outputs["schema"].uri) / layout.SCHEMA_FILE
    if params.schema_file:
        source = ctx.resolve_path(params.schema_file)
        schema = parse_schema_file(source, key=_KEY)
        shutil.copyfile(source, target)
        how = f"imported {source}"
    else:
        # Imported lazily: StatisticsGen imports this module for read_schema.
        from components.statistics_gen.executor import read_statistics

        statistics = ctx.one("statistics")
        if statistics is None:
            raise DataError("SchemaGen needs an ExampleStatistics input to infer a schema")
        stats = read_statistics(statistics, params.split)
        schema = tfdv.infer_schema(stats, infer_feature_shape=params.infer_feature_shape)
        target.write_text(text_format.MessageToString(schema))
        how = f"inferred from split {params.split}"
    ctx.outputs["schema"].properties.update(
        feature_count=len(schema.feature), source=how,
    )
    return ExecutorResult(message=f"{len(schema.feature)} features, {how}")


def parse_schema_file(path: Path, key: str = "schema") -> schema_pb2.Schema:
    """Parse a schema.pbtxt, turning every way it can be wrong into an error naming the file,
    the line and what to do."""
    if not path.is_file():
        raise ConfigError([ConfigIssue(
            str(path), None, key,
            "the schema file does not exist; fix the path (relative paths are relative to the "
            "config file) or remove schema_file to infer the schema",
        )])
    try:
        schema = text_format.Parse(path.read_text(encoding="utf-8"), schema_pb2.Schema())
    except text_format.ParseError as exc:
        line = exc.GetLine()
        column = exc.GetColumn()
        detail = str(exc).split(" : ", 1)[-1]  # drop the "line:col" prefix protobuf adds
        raise ConfigError([ConfigIssue(
            str(path), line, key,
            f"column {column}: not a valid TFDV Schema in text format: {detail}. Fix the "
            "pbtxt (see tensorflow_metadata's schema.proto for the field names)",
        )]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(
            str(path), None, key, f"the schema file is not UTF-8 text: {exc}",
        )]) from exc
    if not schema.feature:
        raise ConfigError([ConfigIssue(
            str(path), None, key,
            "the schema defines no features, so every column would be an anomaly; "
            "add a feature { ... } block per column",
        )])
    return schema


def read_schema(path: Path) -> schema_pb2.Schema:
    """The schema of a Schema artifact (``<uri>/schema.pbtxt``)."""
    if not path.is_file():
        raise DataError(f"the Schema artifact has no {path.name}: expected {path}; "
                        "re-run SchemaGen")
    return parse_schema_file(path, key="schema")
