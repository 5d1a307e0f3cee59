"""Transform: TensorFlow Transform with the pipeline author's preprocessing_fn."""

from __future__ import annotations

from pydantic import Field

from pipelines.sdk import ComponentSpec, InputSpec, Params


class TransformParams(Params):
    module_file: str = Field(description="Python file defining the preprocessing function.")
    preprocessing_fn: str = Field("preprocessing_fn", description="Its name in the module.")
    analyze_splits: list[str] = Field(default_factory=lambda: ["train"])
    transform_splits: list[str] | None = Field(
        None, description="Splits to transform; all of them when unset."
    )


SPEC = ComponentSpec(
    name="Transform",
    version="1",
    params=TransformParams,
    inputs={
        # With ExampleGen's `spans:` window, every span of it, oldest first.
        "examples": InputSpec("Examples", resolver="span_window", prefer_component="ExampleGen"),
        "schema": InputSpec("Schema"),
    },
    outputs={"transform_graph": "TransformGraph", "transformed_examples": "Examples"},
    executor="components.transform.executor:run",
    description="Analyzes the train split and transforms every split with tf.Transform.",
    user_code_params=("module_file",),
)
