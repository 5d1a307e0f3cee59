"""SchemaGen: infer a TFDV schema from train statistics, or import a curated one."""

from __future__ import annotations

from pydantic import Field

from pipelines.sdk import ComponentSpec, InputSpec, Params


class SchemaGenParams(Params):
    schema_file: str | None = Field(
        None,
        description="A curated schema.pbtxt to import instead of inferring one. Relative to the "
        "config.",
    )
    infer_feature_shape: bool = Field(
        True,
        description="When inferring: give features present once in every example a fixed shape, "
        "so tf.Transform parses them as dense tensors.",
    )
    split: str = Field(
        "train", description="The split whose statistics the schema is inferred from."
    )


SPEC = ComponentSpec(
    name="SchemaGen",
    version="1",
    params=SchemaGenParams,
    inputs={"statistics": InputSpec("ExampleStatistics")},
    outputs={"schema": "Schema"},
    executor="components.schema_gen.executor:run",
    description="Infers or imports the TFDV schema.",
    user_code_params=("schema_file",),
    checks="components.schema_gen.checks:check",
)
