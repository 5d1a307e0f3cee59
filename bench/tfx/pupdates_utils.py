"""TFX module file of the pupdates (Pooch Predictor) benchmark pipeline: preprocessing_fn for
Transform, run_fn for Trainer. It does exactly what Lockgate's user code does (pipelines/
examples/pupdates/preprocessing.py and model.py, with pooch_bug off) plus what Lockgate's
Trainer does around run_fn (TensorBoard logging, the raw-example serving export), because a TFX
run_fn must export the model itself.

Self-contained on purpose: TFX packages this directory into a wheel and imports the module by
name, so it must not import from the Lockgate repo.
"""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

LABEL = "likes"
MAX_HASHTAGS = 6
HASHTAG_TOP_K = 200
HASHTAG_OOV_BUCKETS = 10
CATEGORY_OOV_BUCKETS = 1
CATEGORIES = ("breed", "country")  # also the names of their vocabulary files
NUMERIC = ("follower_count", "hashtag_count", "hour_sin", "hour_cos", "has_filter")
CURVE_POINTS = 50  # TensorBoard points per run, as Lockgate's Trainer writes


# --- Transform ---------------------------------------------------------------------------------

def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, tf.Tensor]:
    """Every feature but the label is a VarLenFeature in the curated schema (may be missing), so
    each arrives sparse and is filled in here; see Lockgate's preprocessing.py for the why."""
    outputs: dict[str, tf.Tensor] = {}

    tags = tf.strings.split(tf.squeeze(_dense(inputs["hashtags"], ""), axis=1))
    tag_ids = tft.compute_and_apply_vocabulary(
        tags, top_k=HASHTAG_TOP_K, num_oov_buckets=HASHTAG_OOV_BUCKETS, vocab_filename="hashtags"
    )
    outputs["hashtags"] = (tag_ids + 1).to_tensor(default_value=0, shape=[None, MAX_HASHTAGS])
    count = tf.minimum(tags.row_lengths(), MAX_HASHTAGS)
    outputs["hashtag_count"] = tf.reshape(tf.cast(count, tf.float32) / MAX_HASHTAGS, [-1, 1])

    for name in CATEGORIES:
        outputs[name] = tft.compute_and_apply_vocabulary(
            _dense(inputs[name], ""), num_oov_buckets=CATEGORY_OOV_BUCKETS, vocab_filename=name
        )

    followers = inputs["follower_count"]
    log_followers = tf.math.log1p(tf.maximum(tf.cast(_values(followers), tf.float32), 0.0))
    outputs["follower_count"] = _dense(
        tft.scale_to_z_score(_with_values(followers, log_followers)), 0.0
    )

    hour = tf.cast(_dense(inputs["hour"], -1), tf.float32)
    angle = 2.0 * math.pi * hour / 24.0
    known = tf.cast(hour >= 0, tf.float32)
    outputs["hour_sin"] = tf.sin(angle) * known
    outputs["hour_cos"] = tf.cos(angle) * known

    outputs["has_filter"] = tf.cast(_dense(inputs["has_filter"], 0), tf.float32)
    outputs[LABEL] = tf.cast(_dense(inputs[LABEL], 0), tf.float32)
    return outputs


def _dense(x: Any, default: str | int | float) -> tf.Tensor:
    """A [batch, 1] dense tensor: a sparse feature's one value per row, or ``default``."""
    if isinstance(x, tf.SparseTensor):
        one_column = tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1])
        return tf.sparse.to_dense(one_column, default_value=tf.cast(default, x.dtype))
    return tf.reshape(x, [-1, 1])


def _values(x: Any) -> tf.Tensor:
    return x.values if isinstance(x, tf.SparseTensor) else x


def _with_values(x: Any, values: tf.Tensor) -> Any:
    if isinstance(x, tf.SparseTensor):
        return tf.SparseTensor(x.indices, values, x.dense_shape)
    return values


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
        tft_output,
        hidden_units=[int(u) for u in hp.get("hidden_units", [64, 32])],
        hashtag_dim=int(hp.get("hashtag_embedding_dim", 16)),
        category_dim=int(hp.get("category_embedding_dim", 8)),
        learning_rate=float(hp.get("learning_rate", 0.005)),
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
    """(features, likes) batches from gzipped TFRecords, shuffled and repeated forever."""
    return tf.data.experimental.make_batched_features_dataset(
        file_pattern=files,
        batch_size=batch_size,
        features=feature_spec,
        reader=lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
        label_key=LABEL,
    )


def _build_model(
    tft_output: tft.TFTransformOutput,
    *,
    hidden_units: list[int],
    hashtag_dim: int,
    category_dim: int,
    learning_rate: float,
) -> keras.Model:
    """Mean hashtag embedding + breed/country embeddings + numeric features -> ReLU layers ->
    softplus log1p(likes) -> expm1, trained with the mean squared logarithmic error."""
    inputs = {
        "hashtags": keras.Input(shape=(MAX_HASHTAGS,), dtype=tf.int64, name="hashtags"),
        **{name: keras.Input(shape=(1,), dtype=tf.int64, name=name) for name in CATEGORIES},
        **{name: keras.Input(shape=(1,), dtype=tf.float32, name=name) for name in NUMERIC},
    }
    n_tags = tft_output.vocabulary_size_by_name("hashtags") + HASHTAG_OOV_BUCKETS + 1
    tag_vectors = keras.layers.Embedding(n_tags, hashtag_dim, name="hashtag_embedding")(
        inputs["hashtags"]
    )
    used = tf.expand_dims(tf.cast(inputs["hashtags"] > 0, tf.float32), -1)  # 0 pads
    tag_mean = tf.reduce_sum(tag_vectors * used, axis=1) / tf.maximum(
        tf.reduce_sum(used, axis=1), 1.0
    )

    parts = [tag_mean]
    for name in CATEGORIES:
        size = tft_output.vocabulary_size_by_name(name) + CATEGORY_OOV_BUCKETS
        vectors = keras.layers.Embedding(size, category_dim, name=f"{name}_embedding")(
            inputs[name]
        )
        parts.append(keras.layers.Flatten(name=f"{name}_vector")(vectors))
    parts += [inputs[name] for name in NUMERIC]

    x = keras.layers.Concatenate(name="features")(parts)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    log_likes = keras.layers.Dense(1, activation="softplus", name="log_likes")(x)
    likes = tf.math.expm1(log_likes)

    model = keras.Model(inputs=inputs, outputs=likes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.MeanSquaredLogarithmicError(),
        metrics=[keras.metrics.MeanAbsoluteError(), keras.metrics.MeanSquaredError()],
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
