"""On-disk layout of artifacts, shared by the components that write and read them.

Layouts (``<uri>`` is the artifact's directory):
- Examples:          ``<uri>/Split-<split>/data-*.tfrecord.gz`` (gzipped TFRecord tf.Example),
                     and optionally beside each an Arrow IPC copy of its rows, ``data-*.arrow``
                     (written by ExampleGen, read by StatisticsGen instead of decoding);
                     properties: split_names (JSON list), span, version, split_rows (JSON).
- ExampleStatistics: ``<uri>/Split-<split>/FeatureStats.pb`` (DatasetFeatureStatisticsList).
- Schema:            ``<uri>/schema.pbtxt``.
- ExampleAnomalies:  ``<uri>/Split-<split>/SchemaDiff.pb`` (Anomalies), ``report.html``,
                     ``report.txt``, ``findings.json`` (what ``accept-anomalies`` accepts).
- TransformGraph:    ``<uri>`` is a tf.Transform output directory.
- Model:             ``<uri>/Format-Serving`` is the serving SavedModel,
                     ``<uri>/Format-Weights/weights.h5`` its tf_keras weights (warm start);
                     properties:
                     label_classes (JSON list, the classes its ``scores`` are in order of)
                     when trained with a label vocabulary.
- ModelRun:          ``<uri>`` holds TensorBoard logs.
- ModelEvaluation:   ``<uri>`` holds TFMA output and ``summary.json``.
- ModelBlessing:     ``<uri>/BLESSED`` or ``<uri>/NOT_BLESSED``, plus ``blessing.json``;
                     properties: blessed (1/0), model_id, baseline_model_id.
- PushedModel:       ``<uri>/push.json``; properties: version, destination.
- Overrides (``pipelines/overrides.py``): ``AnomaliesAcceptance``: ``acceptance.json``,
                     ``proposed_schema.pbtxt``, ``proposed_schema.diff``; ``Baseline``:
                     ``baseline.json``; an override ModelBlessing as above, ``override`` 1.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.component import Artifact

SPLIT_PREFIX = "Split-"
EXAMPLES_GLOB = "data-*.tfrecord.gz"
STATS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "SchemaDiff.pb"
SERVING_MODEL_DIR = "Format-Serving"
WEIGHTS_FILE = "Format-Weights/weights.h5"
# Model property: the classes (JSON list) its serving `scores` are in the order of, set when the
# Trainer had a label_vocabulary. The Evaluator checks string labels and baselines against it.
LABEL_CLASSES = "label_classes"


def split_dir(artifact: Artifact, split: str) -> Path:
    return Path(artifact.uri) / f"{SPLIT_PREFIX}{split}"


def split_names(artifact: Artifact) -> list[str]:
    """The artifact's splits, from its ``split_names`` property (a JSON list)."""
    raw = artifact.properties.get("split_names")
    if raw:
        return list(json.loads(raw))
    return sorted(
        p.name.removeprefix(SPLIT_PREFIX)
        for p in Path(artifact.uri).glob(f"{SPLIT_PREFIX}*") if p.is_dir()
    )


def split_rows(artifact: Artifact) -> dict[str, int]:
    """The artifact's rows per split, from its ``split_rows`` property; {} if none is recorded."""
    raw = artifact.properties.get("split_rows")
    return {name: int(rows) for name, rows in json.loads(raw).items()} if raw else {}


def window_split_rows(window: list[Artifact], split: str) -> int | None:
    """A split's rows summed over Examples artifacts (a window, or one), as they recorded them;
    None if one did not record it."""
    recorded = [split_rows(examples).get(split) for examples in window]
    return None if None in recorded else sum(r for r in recorded if r is not None)


def examples_files(artifact: Artifact, split: str) -> list[str]:
    return sorted(str(p) for p in split_dir(artifact, split).glob(EXAMPLES_GLOB))


def set_split_names(artifact: Artifact, names: list[str]) -> None:
    artifact.properties["split_names"] = json.dumps(names)

