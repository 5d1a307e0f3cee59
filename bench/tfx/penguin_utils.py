"""TFX module file of the penguin benchmark pipeline: preprocessing_fn for Transform, run_fn for
Trainer. It does exactly what Lockgate's user code does (examples/penguin/
preprocessing.py and model.py) plus what Lockgate's Trainer does around run_fn (TensorBoard
logging, the raw-example serving export of components/trainer/export.py), because a TFX run_fn
must export the model itself.

Self-contained on purpose: TFX packages this directory into a wheel and imports the module by
name, so it must not import from the Lockgate repo.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"
NUM_CLASSES = 3
CURVE_POINTS = 50  # TensorBoard points per run, as Lockgate's Trainer writes


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Z-score the four measurements; pass the integer species label through unchanged."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    outputs[LABEL] = inputs[LABEL]
    return outputs


def run_fn(fn_args: Any) -> None:
    """Train the same DNN on the same batches as Lockgate, then export it for serving."""
    hp = fn_args.custom_config or {}
    batch_size = int(hp.get("batch_size", 20))
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    feature_spec = tft_output.transformed_feature_spec()
    train = _dataset(fn_args.train_files, feature_spec, LABEL, batch_size)
    evals = _dataset(fn_args.eval_files, feature_spec, LABEL, batch_size)

    keras.backend.clear_session()
    model = _build_model(
        hidden_units=[int(u) for u in hp.get("hidden_units", [8, 8])],
        learning_rate=float(hp.get("learning_rate", 0.01)),
    )
    model.fit(
        train,
        steps_per_epoch=fn_args.train_steps,
        validation_data=evals,
        validation_steps=fn_args.eval_steps,
        callbacks=[keras.callbacks.TensorBoard(
            log_dir=fn_args.model_run_dir,
            update_freq=max(1, fn_args.train_steps // CURVE_POINTS),
        )],
        verbose=2,
    )
    _export(model, tft_output, fn_args.serving_model_dir)


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


def _export(model: keras.Model, tft_output: tft.TFTransformOutput, export_dir: str) -> None:
    """A ``serving_default`` signature over serialized raw tf.Examples, with the transform graph
    in front of the model: the signature TFMA evaluates and a server would call."""
    raw_spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != LABEL}
    model.tft_layer = tft_output.transform_features_layer()  # tracked, so assets are saved

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized: tf.Tensor) -> Any:
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return model({name: transformed[name] for name in FEATURES})

    model.save(export_dir, save_format="tf",
               signatures={"serving_default": serve.get_concrete_function()})
