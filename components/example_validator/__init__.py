"""ExampleValidator: TFDV anomalies per split, an offline HTML report, and a halt gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipelines.sdk import ComponentSpec, InputSpec, Params

Severity = Literal["error", "warning"]


def _new_columns_warn() -> dict[str, Severity]:
    return {"SCHEMA_NEW_COLUMN": "warning"}


class ExampleValidatorParams(Params):
    halt_on: Literal["error", "warning", "never"] = Field(
        "error",
        description="Stop the run when an anomaly of this severity or worse is found.",
    )
    exclude_splits: list[str] = Field(
        default_factory=list, description="Splits not to validate."
    )
    drift: dict[str, float] = Field(
        default_factory=dict,
        description="Feature to drift threshold against the previous span (L-infinity distance "
        "for categorical features, Jensen-Shannon divergence for numeric ones).",
    )
    skew: dict[str, float] = Field(
        default_factory=dict,
        description="Feature to train/eval skew threshold: each other split is compared with "
        "`skew_split` by TFDV's skew comparator (same measures as `drift`). Above it is an "
        "ERROR anomaly: the eval split no longer looks like what the model trains on.",
    )
    skew_split: str = Field(
        "train", description="The split the others are compared with for `skew`."
    )
    min_examples: int = Field(
        50, ge=0,
        description="Halt when a split has fewer examples than this (TFDV's "
        "DATASET_LOW_NUM_EXAMPLES); 0 turns the check off. A 15-row span trains nothing "
        "worth pushing.",
    )
    label_key: str | None = Field(
        None,
        description="The label feature. Set, it is checked for having one class only, and for "
        "drift against the previous span (`label_drift`).",
    )
    label_drift: float | None = Field(
        0.1, gt=0,
        description="Drift threshold of the label against the previous span: L-infinity "
        "distance of the class shares, or Jensen-Shannon divergence for a numeric label. "
        "`drift:` on the label feature overrides it; null turns it off.",
    )
    severity_overrides: dict[str, Severity] = Field(
        default_factory=_new_columns_warn,
        description="TFDV anomaly type (e.g. SCHEMA_NEW_COLUMN, COMPARATOR_L_INFTY_HIGH) to the "
        "severity it gets; TFDV reports every other anomaly as an error. By default a column "
        "the schema does not know is only a warning: Transform ignores it.",
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
        # `lockgate accept-anomalies RUN`: findings of this node in this run a person accepted;
        # they are reported as accepted warnings when the run is resumed, never halt it.
        "accepted": InputSpec("AnomaliesAcceptance", optional=True, resolver="run_override"),
    },
    outputs={"anomalies": "ExampleAnomalies"},
    executor="components.example_validator.executor:run",
    description="Validates statistics against the schema and halts on bad data.",
    may_halt=True,
)
