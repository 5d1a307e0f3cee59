"""Penguin preprocessing: the Transform component's preprocessing_fn.

tf.Transform analyzes the train split once (mean and variance of each measurement) and bakes the
results into a graph that the Trainer also puts in front of the serving model, so training and
serving scale features identically.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Z-score the four measurements; pass the integer species label through unchanged."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    outputs[LABEL] = inputs[LABEL]
    return outputs
