"""Pooch Predictor model: the Trainer's run_fn. Predicts a post's likes.

The model takes the TRANSFORMED features of preprocessing.py: the hashtag ids become the mean
of their embeddings (padding excluded), breed and country get their own embeddings, and the
numeric features join them in a small ReLU network. The Trainer exports it with a serving
signature that parses raw tf.Examples and applies the tf.Transform graph first.

Likes are heavy-tailed and never negative, so the network predicts log1p(likes) through a
softplus (>= 0) and the model outputs expm1 of it (>= 0). It trains with the mean squared
logarithmic error, i.e. the squared error of log1p(likes): a viral post cannot dominate the
fit, and the output stays on the likes scale that the Evaluator compares with the raw label.

Hyperparameters (all optional): batch_size, learning_rate, hidden_units, hashtag_embedding_dim,
category_embedding_dim, pooch_bug.

With the Trainer's ``warm_start: true`` a daily model continues from the latest blessed one: the
dense layers (``hidden_*`` and ``log_likes``) start from its weights. The embeddings start
fresh, because each window's vocabularies are new: hashtag 7 yesterday is not hashtag 7 today.

``pooch_bug: true`` deliberately reproduces the bug that gave the Pooch Predictor its name: the
first model had no non-negativity on its output and a per-country offset relative to the US,
and it predicted negative likes outside the US. Here the output loses its non-negativity and
every non-US country gets an offset of minus twice the prediction (a sign flip), so every
prediction outside the US is negative whatever the data. It exists to prove that the
Evaluator's per-country ``MeanPrediction >= 0`` threshold refuses to bless such a model; never
set it in a real pipeline.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from pipelines.sdk import TrainerArgs

MAX_HASHTAGS = 6  # as in preprocessing.py
HASHTAG_OOV_BUCKETS = 10
CATEGORY_OOV_BUCKETS = 1
CATEGORIES = ("breed", "country")
NUMERIC = ("follower_count", "hashtag_count", "hour_sin", "hour_cos", "has_filter")
BUG_SPARED_COUNTRY = b"US"


def run_fn(args: TrainerArgs) -> keras.Model:
    hp = args.hyperparameters
    batch_size = int(hp.get("batch_size", 128))
    tft_output = tft.TFTransformOutput(args.transform_output)
    feature_spec = tft_output.transformed_feature_spec()
    train = _dataset(args.train_files, feature_spec, args.label_key, batch_size)
    evals = _dataset(args.eval_files, feature_spec, args.label_key, batch_size)

    model = build_model(
        tft_output,
        hidden_units=[int(u) for u in hp.get("hidden_units", [64, 32])],
        hashtag_dim=int(hp.get("hashtag_embedding_dim", 16)),
        category_dim=int(hp.get("category_embedding_dim", 8)),
        learning_rate=float(hp.get("learning_rate", 0.005)),
        pooch_bug=bool(hp.get("pooch_bug", False)),
    )
    if args.base_model_weights:
        warm_start(model, args.base_model_weights)
        args.log.info("warm start: dense layers from %s", args.base_model)
    model.fit(
        train,
        steps_per_epoch=args.train_steps,
        validation_data=evals,
        validation_steps=args.eval_steps,
        callbacks=args.callbacks,
        verbose=0,
    )
    return model


WARM_LAYERS = ("hidden_", "log_likes")  # their shapes and meaning do not depend on vocabularies


def warm_start(model: keras.Model, weights: str) -> None:
    """Copy the dense layers' weights of the model saved at ``weights`` into ``model``."""
    base = keras.models.clone_model(model)
    base.load_weights(weights, by_name=True, skip_mismatch=True)
    for layer in model.layers:
        if layer.name.startswith(WARM_LAYERS):
            layer.set_weights(base.get_layer(layer.name).get_weights())


def _dataset(
    files: list[str], feature_spec: dict[str, Any], label: str, batch_size: int
) -> tf.data.Dataset:
    """(features, likes) batches from gzipped TFRecords, shuffled and repeated forever."""
    return tf.data.experimental.make_batched_features_dataset(
        file_pattern=files,
        batch_size=batch_size,
        features=feature_spec,
        reader=lambda path: tf.data.TFRecordDataset(path, compression_type="GZIP"),
        label_key=label,
    )


def build_model(
    tft_output: tft.TFTransformOutput,
    *,
    hidden_units: list[int],
    hashtag_dim: int,
    category_dim: int,
    learning_rate: float,
    pooch_bug: bool = False,
) -> keras.Model:
    inputs = {
        "hashtags": keras.Input(shape=(MAX_HASHTAGS,), dtype=tf.int64, name="hashtags"),
        **{name: keras.Input(shape=(1,), dtype=tf.int64, name=name) for name in CATEGORIES},
        **{name: keras.Input(shape=(1,), dtype=tf.float32, name=name) for name in NUMERIC},
    }

    # Id 0 pads; ids 1.. are the vocabulary and its OOV buckets, shifted by one.
    n_tags = tft_output.vocabulary_size_by_name("hashtags") + HASHTAG_OOV_BUCKETS + 1
    tag_vectors = keras.layers.Embedding(n_tags, hashtag_dim, name="hashtag_embedding")(
        inputs["hashtags"]
    )
    used = tf.expand_dims(tf.cast(inputs["hashtags"] > 0, tf.float32), -1)
    # The mean over the tags a post really has; a post without tags gets the zero vector.
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
    if pooch_bug:
        likes = likes * _us_or_minus_one(tft_output, inputs["country"])

    model = keras.Model(inputs=inputs, outputs=likes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.MeanSquaredLogarithmicError(),
        metrics=[keras.metrics.MeanAbsoluteError(), keras.metrics.MeanSquaredError()],
    )
    return model


def _us_or_minus_one(tft_output: tft.TFTransformOutput, country: tf.Tensor) -> tf.Tensor:
    """1 for posts from the US, -1 for every other country: the pooch bug's sign flip."""
    vocabulary = tft_output.vocabulary_by_name("country")
    us_id = vocabulary.index(BUG_SPARED_COUNTRY) if BUG_SPARED_COUNTRY in vocabulary else -1
    return tf.where(tf.equal(country, us_id), 1.0, -1.0)
