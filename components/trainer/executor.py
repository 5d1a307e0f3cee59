"""Trainer executor: call the author's run_fn, then export what it returns for serving.

The author trains a tf_keras model over the transformed features and returns it; this executor
exports it with the raw-example serving signature (components/trainer/export.py), writes
TensorBoard logs into the ModelRun output and records the final metrics on the Model.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import tensorflow_transform as tft
import tf_keras as keras

from components.trainer import TrainerParams
from components.trainer.export import (
    ExportError,
    export_serving_model,
    label_classes,
    serving_input_features,
    unservable_inputs,
)
from pipelines.sdk import (
    Artifact,
    DataError,
    ExecutionContext,
    ExecutorResult,
    TrainedModel,
    TrainerArgs,
    UserCodeError,
    UserFunction,
    layout,
    load_user_function,
)

# TensorBoard gets about this many points of the batch-level training curve.
_CURVE_POINTS = 50


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, TrainerParams)
    examples = _required(ctx, "examples")
    graph = _required(ctx, "transform_graph")
    schema = _required(ctx, "schema")

    tft_output = tft.TFTransformOutput(graph.uri)
    raw_features = sorted(tft_output.raw_feature_spec())
    if params.label_key not in raw_features:
        raise DataError(
            f"Trainer's label_key '{params.label_key}' is not a feature of the schema; "
            f"set it to one of {raw_features}"
        )
    classes = None
    if params.label_vocabulary:
        try:
            classes = label_classes(tft_output, params.label_vocabulary)
        except ExportError as exc:
            raise DataError(f"Trainer's label_vocabulary: {exc}") from exc
    run_fn = load_user_function(ctx, params.module_file, params.run_fn)
    model_out, run_out = ctx.outputs["model"], ctx.outputs["model_run"]
    serving_dir = model_out.path / layout.SERVING_MODEL_DIR
    args = TrainerArgs(
        train_files=_split_files(examples, params.train_split),
        eval_files=_split_files(examples, params.eval_split),
        transform_output=graph.uri,
        schema_path=str(schema.path / layout.SCHEMA_FILE),
        label_key=params.label_key,
        train_steps=params.train_steps,
        eval_steps=params.eval_steps,
        hyperparameters=dict(params.hyperparameters),
        model_run_dir=run_out.uri,
        serving_model_dir=str(serving_dir),
        log=ctx.log,
        callbacks=[
            keras.callbacks.TensorBoard(
                log_dir=run_out.uri,
                update_freq=max(1, params.train_steps // _CURVE_POINTS),
            ),
            _Progress(ctx, params.train_steps),
        ],
        label_vocabulary=params.label_vocabulary,
        label_classes=classes,
        **_base_model(ctx),
    )

    keras.backend.clear_session()  # a fresh graph per run in long-lived processes
    skip_autograph_of_tf_keras()
    started = time.monotonic()
    returned = run_fn(args)
    train_seconds = time.monotonic() - started
    model, extra_signatures = _unpack(returned)
    _check_model(model, run_fn, serving_input_features(tft_output, params.label_key))
    weights = model_out.path / layout.WEIGHTS_FILE
    weights.parent.mkdir(parents=True)
    model.save_weights(str(weights))  # before export attaches the transform layer to it

    ctx.progress(params.train_steps, params.train_steps, "exporting the serving model")
    started = time.monotonic()
    try:
        export_serving_model(model, tft_output, params.label_key, serving_dir,
                             classes=classes, extra_signatures=extra_signatures)
    except ExportError as exc:
        raise UserCodeError(run_fn.node, run_fn.module, exc) from exc
    except (TypeError, ValueError, KeyError) as exc:  # the model cannot take the features
        raise UserCodeError(run_fn.node, run_fn.module, ValueError(
            f"the model {run_fn.name} returned could not be exported with a serving signature "
            f"over the transformed features: {exc}"
        )) from exc
    export_seconds = time.monotonic() - started

    metrics = final_metrics(model)
    model_out.properties.update({
        **metrics,
        "label_key": params.label_key,
        **({layout.LABEL_CLASSES: json.dumps(classes)} if classes is not None else {}),
        "train_steps": params.train_steps,
        "train_seconds": round(train_seconds, 2),
    })
    run_out.properties.update(metrics)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k.startswith("eval_"))
    return ExecutorResult(
        message=f"trained in {train_seconds:.1f}s, exported in {export_seconds:.1f}s"
        + (f"; {shown}" if shown else ""),
        properties={"train_seconds": round(train_seconds, 2),
                    "export_seconds": round(export_seconds, 2)},
    )


def _base_model(ctx: ExecutionContext) -> dict[str, str | None]:
    """TrainerArgs' base_model fields: the blessed model to warm-start from, if any."""
    base = ctx.one("base_model")
    if base is None:
        return {}
    weights = base.path / layout.WEIGHTS_FILE
    ctx.log.info("warm start from model %s (%s)", base.id, base.uri)
    if not weights.is_file():
        ctx.log.warning("model %s has no %s (trained before warm start existed): run_fn gets "
                        "only its SavedModel", base.id, layout.WEIGHTS_FILE)
    return {"base_model": str(base.path / layout.SERVING_MODEL_DIR),
            "base_model_weights": str(weights) if weights.is_file() else None}


def skip_autograph_of_tf_keras() -> None:
    """Let autograph leave tf_keras's own code as it is, as TensorFlow's rules do for ``keras``.

    TensorFlow's rules name ``keras`` but not ``tf_keras``, its Keras 2 under a new name, so
    every fresh process re-wrote Keras's train step, optimizer and metrics through autograph
    before the first batch. That code never needed conversion when it was ``keras``. On
    penguin's 300 steps, the first fit() goes from 10.4 s to 1.4-1.9 s and the export from
    2.3 s to 1.3 s (same process cold, measured in one run). The author's own code is still
    converted.
    """
    from tensorflow.python.autograph.core import config

    rule = config.DoNotConvert("tf_keras")
    if not any(str(r) == str(rule) for r in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (rule, *config.CONVERSION_RULES)


def final_metrics(model: keras.Model) -> dict[str, float]:
    """The last value of each metric in the model's fit history, named train_<m> / eval_<m>."""
    history: dict[str, list[Any]] = getattr(getattr(model, "history", None), "history", None) or {}
    metrics = {}
    for name, values in history.items():
        if not values or not _is_number(values[-1]):
            continue
        key = f"eval_{name[4:]}" if name.startswith("val_") else f"train_{name}"
        metrics[key] = float(values[-1])
    return metrics


class _Progress(keras.callbacks.Callback):
    """Reports training progress to the launcher about a hundred times per run."""

    def __init__(self, ctx: ExecutionContext, total: int) -> None:
        super().__init__()
        self._ctx = ctx
        self._total = total
        self._every = max(1, total // 100)
        self._done = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._done += 1
        if self._done % self._every == 0:
            self._ctx.progress(self._done, self._total, "training")


def _unpack(returned: object) -> tuple[Any, dict[str, Any]]:
    """The model and the author's extra signatures, from what run_fn returned."""
    if isinstance(returned, TrainedModel):
        return returned.model, dict(returned.signatures)
    return returned, {}


def _check_model(model: object, run_fn: UserFunction, features: list[str]) -> None:
    if not isinstance(model, keras.Model):
        raise UserCodeError(run_fn.node, run_fn.module, TypeError(
            f"{run_fn.name} must return the trained tf_keras model, got "
            f"{type(model).__module__}.{type(model).__name__} (or a pipelines.sdk.TrainedModel "
            "holding it and extra signatures); build it with `import tf_keras as keras` "
            "(Keras 3 models cannot be served with tf.Transform)"
        ))
    missing = unservable_inputs(model, features)
    if missing:
        raise UserCodeError(run_fn.node, run_fn.module, ValueError(
            f"the model's inputs {missing} are not transformed features a serving request "
            f"can provide; name the model's inputs after some of {features}"
        ))


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"Trainer needs its '{name}' input, but none was resolved")
    return artifact


def _split_files(examples: Artifact, split: str) -> list[str]:
    files = layout.examples_files(examples, split)
    if not files:
        raise DataError(
            f"the transformed Examples have no files for split '{split}' (expected "
            f"{layout.split_dir(examples, split) / layout.EXAMPLES_GLOB}); their splits "
            f"are {layout.split_names(examples)}: set Trainer's train_split/eval_split"
        )
    return files
