"""ExampleGen: files (CSV, Parquet, TFRecord) in, hash-split gzipped TFRecord tf.Examples out."""

from __future__ import annotations

from pydantic import Field, field_validator

from pipelines.component import ComponentSpec, Params


class ExampleGenParams(Params):
    input: str = Field(
        description="File, folder or glob to read. May contain {SPAN} and {VERSION}; the latest "
        "span (and its latest version) is picked unless `span` is set. Relative to the config."
    )
    format: str = Field("csv", pattern="^(csv|parquet|tfrecord)$")
    span: int | None = Field(None, ge=0, description="Read this span instead of the latest.")
    splits: dict[str, int] = Field(
        default_factory=lambda: {"train": 2, "eval": 1},
        description="Split name to hash-bucket weight, e.g. {train: 2, eval: 1}.",
    )
    partition_feature: str | None = Field(
        None, description="Hash this column instead of the whole row, keeping its values together."
    )
    max_bad_row_fraction: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Malformed rows up to this fraction are quarantined to a side file; more fail.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1)

    @field_validator("splits")
    @classmethod
    def _positive_weights(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("needs at least one split, e.g. {train: 2, eval: 1}")
        bad = [name for name, weight in value.items() if weight <= 0]
        if bad:
            raise ValueError(f"split weights must be positive integers; fix {', '.join(bad)}")
        return value


SPEC = ComponentSpec(
    name="ExampleGen",
    version="1",
    params=ExampleGenParams,
    inputs={},
    outputs={"examples": "Examples"},
    executor="components.example_gen.executor:run",
    description="Reads raw data and writes split, gzipped TFRecord tf.Examples.",
)
