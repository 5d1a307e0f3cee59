"""Export a trained model as a SavedModel that serves raw tf.Examples.

The serving signature parses raw examples, applies the tf.Transform graph and calls the model,
so the only preprocessing a server or the Evaluator ever runs is the one the model trained on.

With a label vocabulary (string labels) the signature returns TF Serving's and TFMA's classify
convention: ``scores`` [batch, n_classes] (the model's output) and ``classes`` [batch,
n_classes] (the vocabulary's strings, the same in every row), so ``classes[i]`` names what
``scores[i]`` scores. TFMA maps a raw string label to its class index through ``classes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

SIGNATURE = "serving_default"
INPUT_NAME = "examples"  # the serving signature's input: a batch of serialized tf.Examples
SCORES = "scores"  # with a label vocabulary: the model's output, one score per class
CLASSES = "classes"  # ... and the class names, as TFMA and TF Serving's classify API expect


class ExportError(ValueError):
    """The model or its extra signatures cannot be exported as the contract requires."""


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


def label_classes(tft_output: tft.TFTransformOutput, vocabulary: str) -> list[str]:
    """The entries of the transform output's vocabulary file ``vocabulary``, in index order.

    Raises ``ExportError`` naming the vocabularies that exist when there is none of that name.
    """
    try:
        entries = tft_output.vocabulary_by_name(vocabulary)
    except (ValueError, OSError, tf.errors.NotFoundError) as exc:
        assets = Path(tft_output.transform_savedmodel_dir) / "assets"
        known = sorted(p.name for p in assets.iterdir()) if assets.is_dir() else []
        raise ExportError(
            f"the transform output has no vocabulary '{vocabulary}' (it has {known or 'none'}); "
            "set label_vocabulary to the vocab_filename the preprocessing_fn gives "
            "tft.compute_and_apply_vocabulary for the label"
        ) from exc
    return [e.decode("utf-8") if isinstance(e, bytes) else str(e) for e in entries]


def export_serving_model(
    model: keras.Model,
    tft_output: tft.TFTransformOutput,
    label_key: str,
    export_dir: Path,
    classes: list[str] | None = None,
    extra_signatures: dict[str, Any] | None = None,
) -> None:
    """Save ``model`` to ``export_dir`` with a ``serving_default`` signature over raw examples.

    With ``classes`` the signature returns ``{scores, classes}``; ``extra_signatures`` (the
    author's own) are saved next to it. Raises ``ExportError`` when the model's output does
    not fit ``classes`` or a signature cannot be saved, and whatever tracing the model raises
    when it cannot take the transformed features.
    """
    raw_spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != label_key}
    features = serving_input_features(tft_output, label_key)
    input_names = list(getattr(model, "input_names", None) or features)
    # An attribute of the model, so the saved model tracks the transform graph's assets.
    model.tft_layer = tft_output.transform_features_layer()

    # tf.Transform's graph code needs no AutoGraph (its conditions are on Python values), and
    # transpiling it took half the Trainer on penguin; the model's own call is still converted.
    @tf.autograph.experimental.do_not_convert
    def transform(raw: dict[str, Any]) -> Any:
        return model.tft_layer(raw)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(serialized: tf.Tensor) -> Any:
        raw = tf.io.parse_example(serialized, raw_spec)
        transformed = transform(raw)
        outputs = model({name: transformed[name] for name in input_names})
        if classes is None:
            return outputs
        if not isinstance(outputs, tf.Tensor):
            raise ExportError(
                "with a label_vocabulary the model must have one output, its class scores; "
                f"it returns {type(outputs).__name__}"
            )
        names = tf.constant(classes, tf.string)
        return {SCORES: outputs,
                CLASSES: tf.tile(names[tf.newaxis, :], [tf.shape(outputs)[0], 1])}

    signature = serve.get_concrete_function()
    if classes is not None:
        _check_scores(signature.structured_outputs[SCORES], classes)
    signatures = {SIGNATURE: signature, **_concrete(extra_signatures or {})}
    model.save(str(export_dir), save_format="tf", signatures=signatures)


def _check_scores(scores: tf.Tensor, classes: list[str]) -> None:
    width = scores.shape[-1] if scores.shape.rank == 2 else None
    if width != len(classes):
        raise ExportError(
            f"the model outputs scores of shape {scores.shape.as_list()}, but the label "
            f"vocabulary has {len(classes)} classes {classes}: give the last layer "
            f"{len(classes)} units (tft.compute_and_apply_vocabulary with num_oov_buckets "
            "adds classes the vocabulary file does not name; use 0 for a label)"
        )


def _concrete(signatures: dict[str, Any]) -> dict[str, Any]:
    """The author's extra signatures as concrete functions, checked before saving."""
    concrete = {}
    for name, function in signatures.items():
        if name == SIGNATURE:
            raise ExportError(
                f"'{SIGNATURE}' is the Trainer's own signature (raw tf.Examples through the "
                "transform graph); give the extra signature another name"
            )
        if isinstance(function, tf.types.experimental.ConcreteFunction):
            concrete[name] = function
        elif isinstance(function, tf.types.experimental.GenericFunction):
            if not function.input_signature:
                raise ExportError(
                    f"signature '{name}' is a tf.function without an input_signature; "
                    "declare one, e.g. @tf.function(input_signature=[tf.TensorSpec(...)])"
                )
            concrete[name] = function.get_concrete_function()
        else:
            raise ExportError(
                f"signature '{name}' must be a tf.function, got {type(function).__name__}"
            )
    return concrete
