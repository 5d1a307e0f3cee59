"""A TFDV schema in text format, read with an error that names the file, line and column.

Cheap to import (protobuf and tensorflow_metadata only, no TensorFlow): config checks read
curated schemas with it at validate time, and SchemaGen, StatisticsGen and ExampleValidator
read Schema artifacts with it.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipelines.sdk import ConfigError, ConfigIssue, DataError


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
