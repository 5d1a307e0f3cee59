"""Penguin model: the Trainer's run_fn.

run_fn trains a small DNN on the TRANSFORMED features (z-scored by preprocessing.py) and
returns it. The Trainer exports it with a serving signature that takes raw tf.Examples and
applies the same tf.Transform graph first, so this file never deals with raw data or serving.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from pipelines.sdk import TrainerArgs

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
NUM_CLASSES = 3


def run_fn(args: TrainerArgs) -> keras.Model:
    hp = args.hyperparameters
    batch_size = int(hp.get("batch_size", 20))
    feature_spec = tft.TFTransformOutput(args.transform_output).transformed_feature_spec()
    train = _dataset(args.train_files, feature_spec, args.label_key, batch_size)
    evals = _dataset(args.eval_files, feature_spec, args.label_key, batch_size)

    model = _build_model(
        hidden_units=[int(u) for u in hp.get("hidden_units", [8, 8])],
        learning_rate=float(hp.get("learning_rate", 0.01)),
    )
    model.fit(
        train,
        steps_per_epoch=args.train_steps,
        validation_data=evals,
        validation_steps=args.eval_steps,
        callbacks=args.callbacks,
        verbose=2,  # one line per epoch: readable in task logs
    )
    return model


def _dataset(
    files: list[str], feature_spec: dict[str, Any], label_key: str, batch_size: int
) -> tf.data.Dataset:
    """(features, label) batches from gzipped TFRecords, shuffled and repeated forever."""
    return tf.data.experimental.make_batched_features_dataset(
        file_pattern=files,
        batch_size=batch_size,
        features=feature_spec,
        reader=lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
        label_key=label_key,
    )


def _build_model(hidden_units: list[int], learning_rate: float) -> keras.Model:
    inputs = {name: keras.Input(shape=(1,), name=name) for name in FEATURES}
    x = keras.layers.Concatenate()(list(inputs.values()))
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model
