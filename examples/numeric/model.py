"""Numeric model: the Trainer's run_fn. Predicts the probability that a row's label is 1.

run_fn trains a small ReLU network on the TRANSFORMED features (z-scored by preprocessing.py)
and returns it. The Trainer exports it with a serving signature that takes raw tf.Examples and
applies the same tf.Transform graph first, so this file never deals with raw data or serving.

The output is one sigmoid probability per row, the shape TFMA's binary metrics (BinaryAccuracy,
AUC) read against the raw 0/1 label.

Hyperparameters (all optional): batch_size, learning_rate, hidden_units.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from pipelines.sdk import TrainerArgs

FEATURES = [f"f{i:02d}" for i in range(30)]  # as in preprocessing.py


def run_fn(args: TrainerArgs) -> keras.Model:
    hp = args.hyperparameters
    batch_size = int(hp.get("batch_size", 128))
    feature_spec = tft.TFTransformOutput(args.transform_output).transformed_feature_spec()
    train = _dataset(args.train_files, feature_spec, args.label_key, batch_size)
    evals = _dataset(args.eval_files, feature_spec, args.label_key, batch_size)

    model = build_model(
        hidden_units=[int(u) for u in hp.get("hidden_units", [32, 16])],
        learning_rate=float(hp.get("learning_rate", 0.002)),
    )
    model.fit(
        train,
        steps_per_epoch=args.train_steps,
        validation_data=evals,
        validation_steps=args.eval_steps,
        callbacks=args.callbacks,
        verbose=0,
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


def build_model(hidden_units: list[int], learning_rate: float) -> keras.Model:
    inputs = {name: keras.Input(shape=(1,), name=name) for name in FEATURES}
    x = keras.layers.Concatenate(name="features")(list(inputs.values()))
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    probability = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = keras.Model(inputs=inputs, outputs=probability)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    return model
