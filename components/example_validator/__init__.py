"""ExampleValidator: TFDV anomalies per split, an offline HTML report, and a halt gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.component import ComponentSpec, InputSpec, Params


class ExampleValidatorParams(Params):
    halt_on: Literal["error", "warning", "never"] = Field(
        "error",
        description="Stop the run when an anomaly of this severity or worse is found.",
    )
    exclude_splits: list[str] = Field(default_factory=list)
    drift: dict[str, float] = Field(
        default_factory=dict,
        description="Feature to drift threshold against the previous span (L-infinity distance "
        "for categorical features, Jensen-Shannon divergence for numeric ones).",
    )


SPEC = ComponentSpec(
    name="ExampleValidator",
    version="1",
    params=ExampleValidatorParams,
    inputs={
        "statistics": InputSpec("ExampleStatistics"),
        "schema": InputSpec("Schema"),
        "previous_statistics": InputSpec(
            "ExampleStatistics", optional=True, resolver="previous_span"
        ),
    },
    outputs={"anomalies": "ExampleAnomalies"},
    executor="components.example_validator.executor:run",
    description="Validates statistics against the schema and halts on bad data.",
)
