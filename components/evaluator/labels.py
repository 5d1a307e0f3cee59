"""Which classes each model scores, checked before TFMA runs.

The contract (components/trainer/export.py): a model trained with the Trainer's
``label_vocabulary`` serves ``{scores, classes}`` and records its classes, in score order, in
its ``label_classes`` property. TFMA maps each raw label to a class index through the
``classes`` output of the model being evaluated, so string labels need that output, and a
candidate and a baseline that score different class sets cannot be compared metric by metric:
their accuracies are over different questions, and per-class metrics do not line up.

TFMA's own label lookup breaks on a label the model has no class for (a species absent from
its training data): it one-hot encodes just that example's label, and the batch of labels no
longer stacks into one array (a numpy "inhomogeneous shape" error). ``class_index_extractor``
does the lookup first, per model, with -1 for an unknown class, which every metric counts as
a miss.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_model_analysis.extractors import unbatch_extractor

from pipelines.sdk import Artifact, DataError, layout

CLASSES = "classes"  # the serving signature's output naming each score's class
STAGE_NAME = "LabelsToClassIndices"


def model_classes(model: Artifact) -> list[str] | None:
    """The classes ``model`` scores, in score order; None for a model without a vocabulary."""
    raw = model.properties.get(layout.LABEL_CLASSES)
    return list(json.loads(raw)) if raw else None


def label_is_string(label_key: str, schema: schema_pb2.Schema | None, files: list[str]) -> bool:
    """Whether the raw label is a BYTES feature: from the schema, else the first example."""
    if schema is not None:
        for feature in schema.feature:
            if feature.name == label_key:
                return bool(feature.type == schema_pb2.BYTES)
    dataset = tf.data.TFRecordDataset(files[:1], compression_type="GZIP").take(1)
    for record in dataset:
        feature = tf.train.Example.FromString(record.numpy()).features.feature.get(label_key)
        return feature is not None and feature.WhichOneof("kind") == "bytes_list"
    return False


def check_labels(
    label_key: str, string_label: bool, model: Artifact, baseline: Artifact | None
) -> None:
    """Refuse, with what to do, evaluations whose metrics would be wrong or meaningless."""
    classes = model_classes(model)
    if string_label and classes is None:
        raise DataError(
            f"the label '{label_key}' holds strings, but model {model.id} scores no named "
            "classes, so its metrics cannot be computed on that label: set the Trainer's "
            "label_vocabulary to the vocab_filename the preprocessing_fn gives "
            f"tft.compute_and_apply_vocabulary for '{label_key}'"
        )
    if not string_label and classes is not None and classes != [
        str(i) for i in range(len(classes))
    ]:
        raise DataError(
            f"the label '{label_key}' is numeric, but model {model.id} scores the classes "
            f"{classes} of a vocabulary, in that order; TFMA would read a label value as the "
            "index of its score, not as a class name. Give the label as strings, or train on "
            "the numeric label itself (no label_vocabulary)"
        )
    if baseline is None:
        return
    before = model_classes(baseline)
    if _class_set(before) != _class_set(classes):
        raise DataError(
            f"the class set changed: model {model.id} scores {_shown(classes)}, its baseline "
            f"(model {baseline.id}, the latest blessed) scores {_shown(before)}, so their "
            "metrics are not comparable. If the change is intended, set the Evaluator's "
            "`baseline: none` for one run: the candidate is then judged on the value "
            "thresholds alone, and once blessed it becomes the baseline of the next runs"
        )


def _class_set(classes: list[str] | None) -> frozenset[str] | None:
    return frozenset(classes) if classes is not None else None


def _shown(classes: list[str] | None) -> str:
    return f"{len(classes)} classes {sorted(classes)}" if classes is not None else (
        "no named classes (a numeric label)"
    )


def with_class_indices(extractors: list[tfma.extractors.Extractor]) -> list[Any]:
    """TFMA's ``extractors`` with the string-label lookup right after unbatching."""
    names = [e.stage_name for e in extractors]
    at = names.index(unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME) + 1
    lookup = tfma.extractors.Extractor(stage_name=STAGE_NAME, ptransform=beam.Map(class_indices))
    return [*extractors[:at], lookup, *extractors[at:]]


def class_indices(extracts: dict[str, Any]) -> dict[str, Any]:
    """One example's extracts with each model's string label replaced by its class index."""
    labels = extracts.get(tfma.LABELS_KEY)
    predictions = extracts.get(tfma.PREDICTIONS_KEY)
    result = copy.copy(extracts)
    if isinstance(predictions, Mapping) and CLASSES not in predictions:  # keyed by model
        keyed = labels if isinstance(labels, Mapping) else dict.fromkeys(predictions, labels)
        result[tfma.LABELS_KEY] = {
            name: _index(keyed.get(name), output) for name, output in predictions.items()
        }
    else:
        result[tfma.LABELS_KEY] = _index(labels, predictions)
    return result


def _index(labels: Any, predictions: Any) -> Any:
    if labels is None or not isinstance(predictions, Mapping) or CLASSES not in predictions:
        return labels
    values = np.asarray(labels)
    if values.dtype.kind not in "USO":
        return labels
    classes = np.asarray(predictions[CLASSES])
    while classes.ndim > 1:  # the same names in every row
        classes = classes[0]
    lookup = {_bytes(c): i for i, c in enumerate(classes.tolist())}
    found = [lookup.get(_bytes(v), -1) for v in values.ravel().tolist()]
    return np.asarray(found, dtype=np.int64).reshape(values.shape)


def _bytes(value: Any) -> Any:
    return value.encode("utf-8") if isinstance(value, str) else value
