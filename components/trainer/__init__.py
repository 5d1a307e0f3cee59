"""Trainer: calls the author's run_fn to train a Keras model and export a serving SavedModel."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipelines.sdk import ComponentSpec, InputSpec, Params


class TrainerParams(Params):
    module_file: str = Field(
        description="Python file defining run_fn(args: TrainerArgs), which trains and returns "
        "a tf_keras model over the transformed features, or a TrainedModel(model, signatures) "
        "to export extra signatures of its own (see pipelines/trainer_args.py)."
    )
    run_fn: str = Field("run_fn", description="Its name in the module.")
    label_key: str = Field(
        description="The label feature. The exported serving signature parses raw tf.Examples "
        "with every schema feature except this one, so requests need not carry a label."
    )
    label_vocabulary: str | None = Field(
        None,
        description="For a string (or any categorical) label: the vocab_filename the "
        "preprocessing_fn gave tft.compute_and_apply_vocabulary for it. The model then "
        "outputs one score per vocabulary entry, in vocabulary order, and the serving "
        "signature returns {scores: [batch, n_classes], classes: [batch, n_classes] strings}, "
        "which the Evaluator uses to score the raw label. Unset: the signature returns the "
        "model's output as it is.",
    )
    train_steps: int = Field(300, gt=0, description="Training steps (batches) run_fn should run.")
    eval_steps: int = Field(50, gt=0, description="Validation steps (batches) per evaluation.")
    train_split: str = Field("train", description="Split of the transformed examples to train on.")
    eval_split: str = Field("eval", description="Split to validate on.")
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict, description="Passed to run_fn as args.hyperparameters, as written."
    )
    warm_start: bool = Field(
        False,
        description="Hand run_fn the latest blessed model (args.base_model, "
        "args.base_model_weights) to continue training from; lineage records it as an input. "
        "The first run, with no blessed model yet, trains from scratch.",
    )


SPEC = ComponentSpec(
    name="Trainer",
    version="1",
    params=TrainerParams,
    inputs={
        "examples": InputSpec("Examples", prefer_component="Transform"),
        "transform_graph": InputSpec("TransformGraph"),
        "schema": InputSpec("Schema"),
        "base_model": InputSpec("Model", optional=True, resolver="latest_blessed_model",
                                enabled_by="warm_start"),
    },
    outputs={"model": "Model", "model_run": "ModelRun"},
    executor="components.trainer.executor:run",
    description="Trains the model and exports a SavedModel that takes raw tf.Examples.",
    user_code_params=("module_file",),
    checks="components.trainer.checks:check",
)
