"""ExampleGen: files (CSV, Parquet, TFRecord) in, hash-split gzipped TFRecord tf.Examples out."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from pipelines.sdk import ComponentSpec, Params, SpanWindow

ColumnType = Literal["int", "float", "string"]
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class ExampleGenParams(Params):
    input: str = Field(
        description="File, folder or glob to read. May contain {SPAN}, or a date ({YYYY}, "
        "{MM}, {DD}: the span is its days since 1970-01-01), and {VERSION}; the latest span "
        "(and its latest version) is picked unless `span` is set. Relative to the config."
    )
    format: Literal["csv", "parquet", "tfrecord"] = Field(
        "csv",
        description="csv (header row first), parquet, or tfrecord (tf.Example records, plain "
        "or gzipped).",
    )
    span: int | None = Field(None, ge=0, description="Read this span instead of the latest.")
    version: int | None = Field(
        None, ge=0, description="Read this version of the span instead of its latest."
    )
    spans: SpanWindow | None = Field(
        None,
        description="A span window for the nodes that train and evaluate: {latest: N} or "
        "{range: [A, B]}, with min_spans. Each run still ingests one span; the window's "
        "older spans are the Examples ingested before (read again only if their files "
        "changed).",
    )
    splits: dict[str, int] = Field(
        default_factory=lambda: {"train": 2, "eval": 1},
        description="Split name to hash-bucket weight, e.g. {train: 2, eval: 1}.",
    )
    partition_feature: str | None = Field(
        None,
        min_length=1,
        description="Hash this column instead of the whole row, keeping its values together.",
    )
    max_bad_row_fraction: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Malformed rows (wrong field count, text in a numeric column) up to this "
        "fraction of all rows are quarantined to quarantine/bad_rows.csv in the Examples "
        "artifact; more fail the run. A numeric column may hold non-numeric cells up to "
        "max(10%, this fraction) before it counts as text.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    max_row_bytes: int | None = Field(
        None, gt=0,
        description="The longest CSV row, in bytes, when one is longer than 1 MiB (a long text "
        "cell): CSV files are parsed in blocks that must each hold a whole row.",
    )
    encoding: str = Field(
        "utf-8",
        description="The CSV files' text encoding (latin-1, cp1252, utf-16, ...); they are read "
        "as UTF-8 after converting. With utf-8, bytes that are not UTF-8 are an error naming "
        "the file, line and column.",
    )
    column_types: dict[str, ColumnType] = Field(
        default_factory=dict,
        description="CSV only: force a column's type instead of inferring it, e.g. "
        "{zip_code: string} keeps leading zeros. Values that do not parse as a forced int or "
        "float are malformed rows.",
    )

    @field_validator("splits")
    @classmethod
    def _positive_weights(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("needs at least one split, e.g. {train: 2, eval: 1}")
        bad = [name for name, weight in value.items() if weight <= 0]
        if bad:
            raise ValueError(f"split weights must be positive integers; fix {', '.join(bad)}")
        odd = [name for name in value if not _SPLIT_NAME.match(name)]
        if odd:
            raise ValueError(
                f"split names become folder names: use letters, digits, '_' and '-'; "
                f"fix {', '.join(odd)}"
            )
        return value


SPEC = ComponentSpec(
    name="ExampleGen",
    version="1",
    params=ExampleGenParams,
    inputs={},
    outputs={"examples": "Examples"},
    executor="components.example_gen.executor:run",
    description="Reads raw data and writes split, gzipped TFRecord tf.Examples.",
    external_fingerprint="components.example_gen.spans:fingerprint",
    span_param="span",
    spans="components.example_gen.spans:available_spans",
    window_param="spans",
    checks="components.example_gen.checks:check",
)
