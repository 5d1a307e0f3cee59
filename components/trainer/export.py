"""Export a trained model as a SavedModel that serves raw tf.Examples.

The serving signature parses raw examples, applies the tf.Transform graph and calls the model,
so the only preprocessing a server or the Evaluator ever runs is the one the model trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

SIGNATURE = "serving_default"
INPUT_NAME = "examples"  # the serving signature's input: a batch of serialized tf.Examples


def serving_input_features(tft_output: tft.TFTransformOutput, label_key: str) -> list[str]:
    """The transformed features a served request can produce: every one, except the label."""
    return sorted(name for name in tft_output.transformed_feature_spec() if name != label_key)


def unservable_inputs(model: keras.Model, features: list[str]) -> list[str]:
    """The model's named inputs that a serving request cannot feed (empty when all can).

    Subclassed models have no named inputs; they get the whole feature dict and are checked
    by tracing the signature instead.
    """
    names: list[str] = list(getattr(model, "input_names", None) or [])
    return [name for name in names if name not in features]


def export_serving_model(
    model: keras.Model, tft_output: tft.TFTransformOutput, label_key: str, export_dir: Path
) -> None:
    """Save ``model`` to ``export_dir`` with a ``serving_default`` signature over raw examples.

    Raises whatever tracing the model raises when it cannot take the transformed features.
    """
    raw_spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != label_key}
    features = serving_input_features(tft_output, label_key)
    input_names = list(getattr(model, "input_names", None) or features)
    # An attribute of the model, so the saved model tracks the transform graph's assets.
    model.tft_layer = tft_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(serialized: tf.Tensor) -> Any:
        raw = tf.io.parse_example(serialized, raw_spec)
        transformed = model.tft_layer(raw)
        return model({name: transformed[name] for name in input_names})

    signature = serve.get_concrete_function()
    model.save(str(export_dir), save_format="tf", signatures={SIGNATURE: signature})
