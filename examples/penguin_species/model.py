"""Penguin species model: the Trainer's run_fn, for a string label.

The label arrives as its tf.Transform vocabulary index (preprocessing.py), so the model is an
ordinary sparse-categorical classifier with one softmax output per entry of that vocabulary,
in vocabulary order: ``args.label_classes``. The Trainer, told the vocabulary's name
(``label_vocabulary``), exports a signature that returns the class names next to the scores.

It also exports a signature of its own, ``predict_transformed``: class scores for
already-transformed features, for batch jobs that ran the transform themselves.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from pipelines.sdk import TrainedModel, TrainerArgs

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
ISLAND = "island"
ISLAND_VOCABULARY = "island"
ISLAND_OOV_BUCKETS = 1  # as preprocessing.py asks tf.Transform for


def run_fn(args: TrainerArgs) -> TrainedModel:
    if not args.label_classes:
        raise ValueError(
            "this model needs the label's vocabulary: set the Trainer's label_vocabulary "
            "to the vocab_filename preprocessing.py uses (species)"
        )
    hp = args.hyperparameters
    batch_size = int(hp.get("batch_size", 20))
    tft_output = tft.TFTransformOutput(args.transform_output)
    feature_spec = tft_output.transformed_feature_spec()
    train = _dataset(args.train_files, feature_spec, args.label_key, batch_size)
    evals = _dataset(args.eval_files, feature_spec, args.label_key, batch_size)

    islands = tft_output.vocabulary_size_by_name(ISLAND_VOCABULARY) + ISLAND_OOV_BUCKETS
    model = _build_model(
        n_classes=len(args.label_classes),
        islands=islands,
        hidden_units=[int(u) for u in hp.get("hidden_units", [8, 8])],
        learning_rate=float(hp.get("learning_rate", 0.01)),
    )
    model.fit(
        train,
        steps_per_epoch=args.train_steps,
        validation_data=evals,
        validation_steps=args.eval_steps,
        callbacks=args.callbacks,
        verbose=2,
    )

    specs = {name: tf.TensorSpec([None, 1], tf.float32, name=name) for name in FEATURES}
    specs[ISLAND] = tf.TensorSpec([None, 1], tf.int64, name=ISLAND)

    @tf.function(input_signature=[specs])
    def predict_transformed(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {"probabilities": model(features)}

    return TrainedModel(model, signatures={"predict_transformed": predict_transformed})


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


def _build_model(
    n_classes: int, islands: int, hidden_units: list[int], learning_rate: float
) -> keras.Model:
    inputs = {name: keras.Input(shape=(1,), name=name) for name in FEATURES}
    inputs[ISLAND] = keras.Input(shape=(1,), name=ISLAND, dtype="int64")
    island = keras.layers.CategoryEncoding(num_tokens=islands, output_mode="one_hot")(
        inputs[ISLAND]
    )
    x = keras.layers.Concatenate()([*(inputs[name] for name in FEATURES), island])
    for units in hidden_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model
