"""TFX module file of the numeric benchmark pipeline: preprocessing_fn for Transform, run_fn for
Trainer. It does exactly what Lockgate's user code does (examples/numeric/preprocessing.py and
model.py) plus what Lockgate's Trainer does around run_fn (TensorBoard logging, the raw-example
serving export), because a TFX run_fn must export the model itself.

Self-contained on purpose: TFX packages this directory into a wheel and imports the module by
name, so it must not import from the Lockgate repo.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

FEATURES = [f"f{i:02d}" for i in range(30)]
LABEL = "label"
CURVE_POINTS = 50  # TensorBoard points per run, as Lockgate's Trainer writes


# --- Transform ---------------------------------------------------------------------------------

def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Z-score every feature; pass the 0/1 label through; drop the id."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    outputs[LABEL] = inputs[LABEL]
    return outputs


# --- Trainer -----------------------------------------------------------------------------------

def run_fn(fn_args: Any) -> None:
    """Train the same network on the same batches as Lockgate, then export it for serving."""
    hp = fn_args.custom_config or {}
    batch_size = int(hp.get("batch_size", 128))
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    feature_spec = tft_output.transformed_feature_spec()
    train = _dataset(fn_args.train_files, feature_spec, batch_size)
    evals = _dataset(fn_args.eval_files, feature_spec, batch_size)

    keras.backend.clear_session()
    model = _build_model(
        hidden_units=[int(u) for u in hp.get("hidden_units", [32, 16])],
        learning_rate=float(hp.get("learning_rate", 0.002)),
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
        verbose=0,
    )
    _export(model, tft_output, fn_args.serving_model_dir)


def _dataset(files: list[str], feature_spec: dict[str, Any], batch_size: int) -> tf.data.Dataset:
    """(features, label) batches from gzipped TFRecords, shuffled and repeated forever."""
    return tf.data.experimental.make_batched_features_dataset(
        file_pattern=files,
        batch_size=batch_size,
        features=feature_spec,
        reader=lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
        label_key=LABEL,
    )


def _build_model(hidden_units: list[int], learning_rate: float) -> keras.Model:
    """The 30 z-scored features -> ReLU layers -> one sigmoid probability, trained with the
    binary cross-entropy."""
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


def _export(model: keras.Model, tft_output: tft.TFTransformOutput, export_dir: str) -> None:
    """A ``serving_default`` signature over serialized raw tf.Examples, with the transform graph
    in front of the model: the signature TFMA evaluates and a server would call."""
    raw_spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != LABEL}
    input_names = list(model.input_names)
    model.tft_layer = tft_output.transform_features_layer()  # tracked, so assets are saved

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized: tf.Tensor) -> Any:
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return model({name: transformed[name] for name in input_names})

    model.save(export_dir, save_format="tf",
               signatures={"serving_default": serve.get_concrete_function()})
