"""What the Trainer hands the author's ``run_fn``.

The contract: ``run_fn(args: TrainerArgs)`` trains a tf_keras model whose inputs are the
TRANSFORMED features and returns it. The Trainer, not the author, exports it with a serving
signature that parses raw tf.Examples and applies the tf.Transform graph, so serving cannot
drift from training. ``run_fn`` may instead return a ``TrainedModel``: the model plus
signatures of the author's own, exported next to ``serving_default``. Cheap to import: user
code imports it for the type hint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrainerArgs:
    train_files: list[str]
    """Gzipped TFRecord files of transformed tf.Examples to train on."""
    eval_files: list[str]
    """Gzipped TFRecord files of transformed tf.Examples to validate on."""
    transform_output: str
    """The tf.Transform output directory: ``tft.TFTransformOutput(transform_output)`` gives the
    transformed feature spec to parse ``train_files`` with."""
    schema_path: str
    """The raw data's schema.pbtxt."""
    label_key: str
    """The label feature (present in both raw and transformed examples)."""
    train_steps: int
    eval_steps: int
    hyperparameters: dict[str, Any]
    """The Trainer's ``hyperparameters`` param, as written in the config."""
    model_run_dir: str
    """Directory for TensorBoard logs (the ModelRun artifact)."""
    serving_model_dir: str
    """Where the Trainer will export the model; run_fn need not write there."""
    log: logging.Logger
    callbacks: list[Any] = field(default_factory=list)
    """tf_keras callbacks to pass to ``model.fit``: TensorBoard logging into ``model_run_dir``
    and progress reporting."""
    label_vocabulary: str | None = None
    """The Trainer's ``label_vocabulary`` param: the ``vocab_filename`` the preprocessing_fn
    gave ``tft.compute_and_apply_vocabulary`` for the label, or None for numeric labels."""
    label_classes: list[str] | None = None
    """That vocabulary's entries, in index order: the model's output ``i`` scores
    ``label_classes[i]``, so it needs ``len(label_classes)`` outputs."""
    base_model: str | None = None
    """With the Trainer's ``warm_start``: the latest blessed model's serving SavedModel
    directory (None on the first run)."""
    base_model_weights: str | None = None
    """...and its tf_keras weights (HDF5), for ``model.load_weights(path, by_name=True)``:
    layers whose names and shapes match continue from the blessed model. A layer whose meaning
    depends on a vocabulary that may have changed (an embedding) is the author's to skip."""


@dataclass(frozen=True)
class TrainedModel:
    """What ``run_fn`` may return instead of the bare model, to export signatures of its own.

    The Trainer always exports ``serving_default`` itself (raw serialized tf.Examples in, the
    tf.Transform graph applied), so that name is reserved. Each extra signature is a
    ``tf.function`` with an ``input_signature`` (or a concrete function); whatever resources
    it uses beyond the model's own variables must be tracked by the model, e.g. assigned as
    an attribute of it (``model.my_layer = tft_output.transform_features_layer()``).
    """

    model: Any
    """The trained tf_keras model over the transformed features."""
    signatures: dict[str, Any] = field(default_factory=dict)
    """Signature name -> ``tf.function``, saved in the SavedModel next to ``serving_default``."""
