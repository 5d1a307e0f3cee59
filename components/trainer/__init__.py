"""Trainer: calls the author's run_fn to train a Keras model and export a serving SavedModel."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipelines.component import ComponentSpec, InputSpec, Params


class TrainerParams(Params):
    module_file: str = Field(description="Python file defining run_fn.")
    run_fn: str = Field("run_fn", description="Its name in the module.")
    train_steps: int = Field(300, gt=0)
    eval_steps: int = Field(50, gt=0)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


SPEC = ComponentSpec(
    name="Trainer",
    version="1",
    params=TrainerParams,
    inputs={
        "examples": InputSpec("Examples", prefer_component="Transform"),
        "transform_graph": InputSpec("TransformGraph"),
        "schema": InputSpec("Schema"),
    },
    outputs={"model": "Model", "model_run": "ModelRun"},
    executor="components.trainer.executor:run",
    description="Trains the model and exports a SavedModel that takes raw tf.Examples.",
    user_code_params=("module_file",),
)
