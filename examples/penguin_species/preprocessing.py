"""Penguin species preprocessing: string label and string island, numbered by tf.Transform.

The raw data keeps the species and island as words (Adelie, Dream, ...). tf.Transform computes
their vocabularies on the train split, so the numbering is part of the transform graph that the
Trainer puts in front of the serving model, not a hand-kept table. The label's vocabulary file
is named ``species`` (LABEL_VOCABULARY); the Trainer's ``label_vocabulary`` param names it, so
the served model returns the class names next to their scores.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"
LABEL_VOCABULARY = "species"
ISLAND = "island"


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Z-score the measurements; the species and island become their vocabulary indices."""
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in FEATURES}
    # An island never seen in training maps to the out-of-vocabulary bucket (index 3).
    outputs[ISLAND] = tft.compute_and_apply_vocabulary(
        inputs[ISLAND], num_oov_buckets=1, vocab_filename=ISLAND
    )
    # No OOV bucket for the label: the model has exactly one output per known species.
    outputs[LABEL] = tft.compute_and_apply_vocabulary(
        inputs[LABEL], vocab_filename=LABEL_VOCABULARY
    )
    return outputs
