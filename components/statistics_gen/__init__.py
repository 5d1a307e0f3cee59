"""StatisticsGen: TFDV statistics for every split, in process on the DirectRunner, else on Beam."""

from __future__ import annotations

from pydantic import Field

from pipelines.sdk import ComponentSpec, InputSpec, Params


class StatisticsGenParams(Params):
    exclude_splits: list[str] = Field(
        default_factory=list,
        description="Splits to skip: no statistics are computed or written for them.",
    )
    sketch_top_k: bool = Field(
        default=True,
        description=(
            "Compute top values and unique counts with TFDV's sketches (about 2x faster on "
            "features with many distinct values; unique counts are estimates within about 1%). "
            "false counts them exactly, on Beam only, so also on the DirectRunner."
        ),
    )


SPEC = ComponentSpec(
    name="StatisticsGen",
    version="2",
    params=StatisticsGenParams,
    inputs={
        "examples": InputSpec("Examples", prefer_component="ExampleGen"),
        "schema": InputSpec("Schema", optional=True),
    },
    outputs={"statistics": "ExampleStatistics"},
    executor="components.statistics_gen.executor:run",
    description="Computes TFDV statistics per split.",
)
