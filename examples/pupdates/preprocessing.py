"""Pooch Predictor preprocessing: the Transform component's preprocessing_fn.

tf.Transform analyzes the train split once (vocabularies of hashtags, breeds and countries; mean
and variance of log followers) and bakes the results into the graph that the Trainer also puts
in front of the serving model, so training and serving encode posts identically.

Every feature except the label may be missing in a row (see schemas/pupdates/schema.pbtxt), so
each arrives as a SparseTensor with zero or one value per row and is filled in here:

- hashtags: split on whitespace, mapped through a top-k vocabulary with OOV buckets, shifted by
  one so that 0 pads, and cut or padded to MAX_HASHTAGS ids -> int64 [batch, MAX_HASHTAGS];
  hashtag_count is the number of tags / MAX_HASHTAGS.
- breed, country: vocabulary ids; missing or unseen values fall into the OOV bucket.
- follower_count: log1p, then z-score; a missing count becomes 0, the mean.
- hour: cyclic (sin, cos), so 23h sits next to 0h; a missing hour becomes (0, 0).
- has_filter: passed through as a float; a missing flag counts as no filter.
- likes (the label): passed through as a float.

model.py reads the vocabulary sizes by the file names below. This module is self-contained on
purpose: the cache fingerprints exactly the files a component names.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_transform as tft

LABEL = "likes"
MAX_HASHTAGS = 6  # the most tags the model looks at; longer lists are cut
HASHTAG_TOP_K = 200  # the tag vocabulary's long tail shares the OOV buckets
HASHTAG_OOV_BUCKETS = 10
CATEGORY_OOV_BUCKETS = 1  # missing and unknown breeds/countries
CATEGORIES = ("breed", "country")  # also the names of their vocabulary files


def preprocessing_fn(inputs: dict[str, tf.Tensor | tf.SparseTensor]) -> dict[str, tf.Tensor]:
    outputs: dict[str, tf.Tensor] = {}

    text = tf.squeeze(_dense(inputs["hashtags"], ""), axis=1)
    tags = tf.strings.split(text)  # ragged [batch, None]; "" gives no tags
    tag_ids = tft.compute_and_apply_vocabulary(
        tags, top_k=HASHTAG_TOP_K, num_oov_buckets=HASHTAG_OOV_BUCKETS, vocab_filename="hashtags"
    )
    outputs["hashtags"] = (tag_ids + 1).to_tensor(default_value=0, shape=[None, MAX_HASHTAGS])
    count = tf.minimum(tags.row_lengths(), MAX_HASHTAGS)
    outputs["hashtag_count"] = tf.reshape(tf.cast(count, tf.float32) / MAX_HASHTAGS, [-1, 1])

    for name in CATEGORIES:
        # An empty string never enters a tf.Transform vocabulary, so a missing value is OOV.
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


def _dense(x: tf.Tensor | tf.SparseTensor, default: str | int | float) -> tf.Tensor:
    """A [batch, 1] dense tensor: a sparse feature's one value per row, or ``default``."""
    if isinstance(x, tf.SparseTensor):
        one_column = tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1])
        return tf.sparse.to_dense(one_column, default_value=tf.cast(default, x.dtype))
    return tf.reshape(x, [-1, 1])


def _values(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    return x.values if isinstance(x, tf.SparseTensor) else x


def _with_values(x: tf.Tensor | tf.SparseTensor, values: tf.Tensor) -> tf.Tensor | tf.SparseTensor:
    if isinstance(x, tf.SparseTensor):
        return tf.SparseTensor(x.indices, values, x.dense_shape)
    return values
