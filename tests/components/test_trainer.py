"""Trainer executor against real TF, tf_keras and tf.Transform, on the penguin data.

Trains the shipped penguin model.py for a few steps on a real Transform output, then serves the
exported SavedModel raw tf.Examples the way TF Serving and the Evaluator will.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError, UserCodeError
from pipelines.sdk import layout
from tests.helpers import REPO, executor_context
from tests.penguin_data import (
    LABEL,
    PENGUIN_PREPROCESSING,
    penguin_inputs,
    penguin_table,
    run_transform,
    serialized_examples,
)

PENGUIN_MODEL = REPO / "examples" / "penguin" / "model.py"
STEPS = 30


@pytest.fixture(scope="module")
def trainer_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Artifact]]:
    examples, schema = penguin_inputs(tmp_path_factory.mktemp("penguin"))
    transform = run_transform(
        tmp_path_factory.mktemp("transform"), (examples, schema), PENGUIN_PREPROCESSING
    )
    return {
        "examples": [transform.outputs["transformed_examples"]],
        "transform_graph": [transform.outputs["transform_graph"]],
        "schema": [schema],
    }


def trainer_context(
    tmp_path: Path, inputs: dict[str, list[Artifact]], module_file: Path, **params: object
) -> ExecutionContext:
    return executor_context(
        "Trainer", tmp_path,
        params={"module_file": str(module_file), "label_key": LABEL, "train_steps": STEPS,
                "eval_steps": 5, **params},
        inputs=inputs,
    )


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, trainer_inputs: dict[str, list[Artifact]]
) -> tuple[ExecutionContext, ExecutorResult]:
    import tf_keras as keras

    from components.trainer.executor import run

    keras.utils.set_random_seed(7)
    ctx = trainer_context(
        tmp_path_factory.mktemp("trainer"), trainer_inputs, PENGUIN_MODEL,
        hyperparameters={"hidden_units": [8, 8], "learning_rate": 0.05, "batch_size": 20},
    )
    return ctx, run(ctx)


def serve(model_dir: Path, records: list[bytes]) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_dir / layout.SERVING_MODEL_DIR))
    signature = loaded.signatures["serving_default"]
    (output,) = signature(examples=tf.constant(records)).values()
    return np.asarray(output.numpy())


def test_serving_signature_takes_raw_examples_with_or_without_label(
    trained: tuple[ExecutionContext, ExecutorResult],
) -> None:
    ctx, _ = trained
    table = penguin_table()
    labels = np.asarray(table[LABEL])
    with_label = serve(ctx.outputs["model"].path, serialized_examples(table))
    without = serve(ctx.outputs["model"].path, serialized_examples(table.drop([LABEL])))

    assert with_label.shape == (table.num_rows, 3)
    np.testing.assert_allclose(with_label.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(with_label, without, atol=1e-6)
    # Raw measurements reach the model only z-scored by the baked-in transform graph; without
    # it (grams of body mass straight into the DNN) this would be near chance.
    accuracy = float((with_label.argmax(axis=1) == labels).mean())
    assert accuracy > 0.8, accuracy


def test_tensorboard_logs_and_metrics_are_recorded(
    trained: tuple[ExecutionContext, ExecutorResult],
) -> None:
    ctx, result = trained
    run_dir = ctx.outputs["model_run"].path
    assert list((run_dir / "train").glob("events.out.tfevents.*"))
    assert list((run_dir / "validation").glob("events.out.tfevents.*"))
    props = ctx.outputs["model"].properties
    for key in ("train_loss", "eval_loss", "train_sparse_categorical_accuracy",
                "eval_sparse_categorical_accuracy"):
        assert isinstance(props[key], float), key
    assert 0.0 <= props["eval_sparse_categorical_accuracy"] <= 1.0
    assert props["label_key"] == LABEL
    assert props["train_steps"] == STEPS
    assert "eval_loss" in result.message


def write_module(tmp_path: Path, body: str) -> Path:
    module = tmp_path / "broken_model.py"
    module.write_text(body)
    return module


def test_run_fn_that_raises_is_wrapped(
    tmp_path: Path, trainer_inputs: dict[str, list[Artifact]]
) -> None:
    from components.trainer.executor import run

    module = write_module(tmp_path, "def run_fn(args):\n    raise RuntimeError('out of luck')\n")
    with pytest.raises(UserCodeError) as info:
        run(trainer_context(tmp_path, trainer_inputs, module))
    assert (info.value.node, info.value.module) == ("trainer", str(module))
    assert isinstance(info.value.cause, RuntimeError)
    assert "out of luck" in str(info.value) and str(module) in str(info.value)


def test_run_fn_must_return_a_keras_model(
    tmp_path: Path, trainer_inputs: dict[str, list[Artifact]]
) -> None:
    from components.trainer.executor import run

    module = write_module(tmp_path, "def run_fn(args):\n    return None\n")
    with pytest.raises(UserCodeError, match="must return the trained tf_keras model"):
        run(trainer_context(tmp_path, trainer_inputs, module))


def test_model_inputs_must_be_transformed_features(
    tmp_path: Path, trainer_inputs: dict[str, list[Artifact]]
) -> None:
    from components.trainer.executor import run

    module = write_module(tmp_path, (
        "import tf_keras as keras\n"
        "def run_fn(args):\n"
        "    x = keras.Input(shape=(1,), name='bill_length')\n"
        "    return keras.Model(x, keras.layers.Dense(3)(x))\n"
    ))
    with pytest.raises(UserCodeError, match=r"\['bill_length'\].*culmen_length_mm"):
        run(trainer_context(tmp_path, trainer_inputs, module))


def test_label_key_must_be_in_the_schema(
    tmp_path: Path, trainer_inputs: dict[str, list[Artifact]]
) -> None:
    from components.trainer.executor import run

    ctx = trainer_context(tmp_path, trainer_inputs, PENGUIN_MODEL, label_key="penguin_species")
    with pytest.raises(DataError, match=r"'penguin_species'.*'species'"):
        run(ctx)


def test_autograph_leaves_tf_keras_internals_alone() -> None:
    # Converting tf_keras's train step in every fresh process cost ~9 s of penguin's Trainer.
    import tf_keras as keras
    from tensorflow.python.autograph.impl import conversion

    from components.trainer.executor import skip_autograph_of_tf_keras

    skip_autograph_of_tf_keras()
    assert conversion.is_allowlisted(keras.Model.train_step)
    assert conversion.is_allowlisted(keras.optimizers.Adam.apply_gradients)
    assert not conversion.is_allowlisted(test_autograph_leaves_tf_keras_internals_alone)


def test_warm_start_hands_run_fn_the_base_models_saved_weights(
    tmp_path: Path, trainer_inputs: dict[str, list[Artifact]],
    trained: tuple[ExecutionContext, ExecutorResult], caplog: pytest.LogCaptureFixture,
) -> None:
    """Every exported model keeps its tf_keras weights; a warm-started Trainer gives run_fn
    the base model's SavedModel and those weights, which load into the same architecture."""
    import logging

    from components.trainer.executor import run

    base = trained[0].outputs["model"]
    weights = base.path / layout.WEIGHTS_FILE
    assert weights.is_file()
    module = write_module(tmp_path, (
        f"import runpy\nPENGUIN = runpy.run_path({str(PENGUIN_MODEL)!r})\n"
        "def run_fn(args):\n"
        "    model = PENGUIN['run_fn'](args)\n"
        "    model.load_weights(args.base_model_weights)  # same architecture: every layer\n"
        "    args.log.info('base %s', args.base_model)\n"
        "    return model\n"
    ))
    inputs = {**trainer_inputs, "base_model": [base]}
    ctx = trainer_context(tmp_path, inputs, module, warm_start=True,
                          hyperparameters={"hidden_units": [8, 8], "batch_size": 20})
    with caplog.at_level(logging.INFO, logger=ctx.log.name):
        run(ctx)
    assert f"base {base.path / layout.SERVING_MODEL_DIR}" in caplog.messages
