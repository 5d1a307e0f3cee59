"""Numeric preprocessing: the Transform component's preprocessing_fn.

tf.Transform analyzes the train split once (mean and variance of each of the 30 features) and
bakes the results into the graph that the Trainer also puts in front of the serving model, so
training and serving scale features identically. The features' scales span three orders of
magnitude (pipelines/datagen/numeric.py); unscaled, the largest would drown the rest.

The id is not a feature: it is dropped here. This module is self-contained on purpose: the
cache fingerprints exactly the files a component names.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

FEATURES = [f"f{i:02d}" for i in range(30)]
LABEL = "label"


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Z-score every feature; pass the 0/1 label through unchanged."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    outputs[LABEL] = inputs[LABEL]
    return outputs
