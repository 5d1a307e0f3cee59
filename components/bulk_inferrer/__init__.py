"""BulkInferrer: runs a blessed model over a whole split of raw examples and writes the
predictions as Parquet (and CSV), next to chosen raw columns such as an id.

The examples may be the pipeline's own (ExampleGen's eval split, by default) or an unlabelled
data set read by a second ExampleGen and wired explicitly::

    - component: ExampleGen
      name: unlabelled_gen
      params: {input: data/unlabelled.csv, splits: {unlabelled: 1}}
    - component: BulkInferrer
      inputs: {examples: unlabelled_gen.examples}
      params: {split: unlabelled, key_columns: [penguin_id]}

InferenceResult layout: ``<uri>/Split-<split>/predictions.parquet`` (and ``predictions.csv``);
properties: split_names, split_rows (JSON), rows, model_id, examples_id.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from pipelines.sdk import ComponentSpec, InputSpec, Params

ALL_SPLITS = "*"
_SPLIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class BulkInferrerParams(Params):
    split: str = Field(
        "eval", description="The split of the examples to run on, or '*' for every split."
    )
    output_format: Literal["parquet", "csv"] = Field(
        "parquet",
        description="Predictions are always written as Parquet; 'csv' writes a CSV copy too.",
    )
    key_columns: list[str] = Field(
        default_factory=list,
        description="Raw feature columns copied next to the predictions, e.g. an id.",
    )
    require_blessing: bool = Field(
        True,
        description="Run only on a model the Evaluator blessed (and the InfraValidator, when "
        "one is wired); otherwise the node is skipped with the reason.",
    )
    batch_size: int = Field(256, gt=0, description="Examples per call of the signature.")
    signature_name: str = Field(
        "serving_default", description="Signature taking serialized raw tf.Examples."
    )

    @field_validator("split")
    @classmethod
    def _split_name(cls, value: str) -> str:
        if value != ALL_SPLITS and not _SPLIT.match(value):
            raise ValueError(f"'{value}' is not a split name; name one, or '*' for every split")
        return value

    @field_validator("key_columns")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        repeated = sorted({c for c in value if value.count(c) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return value


SPEC = ComponentSpec(
    name="BulkInferrer",
    version="1",
    params=BulkInferrerParams,
    inputs={
        "model": InputSpec("Model"),
        "examples": InputSpec("Examples", prefer_component="ExampleGen"),
        "blessing": InputSpec("ModelBlessing", optional=True),
        "infra_blessing": InputSpec("InfraBlessing", optional=True),
    },
    outputs={"inference_result": "InferenceResult"},
    executor="components.bulk_inferrer.executor:run",
    description="Runs the model's serving signature over a split of raw examples and writes "
    "the predictions with key columns as Parquet (and CSV).",
)
