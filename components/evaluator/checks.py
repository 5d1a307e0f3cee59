"""The Evaluator's checks for ``lockgate validate``, mistakes that would otherwise surface only
after training, minutes into a run:

- a metric ``class_name`` that neither TFMA nor tf_keras knows (``known_metrics``, generated, so
  no TensorFlow import here);
- a ``label_key`` or slice feature key missing from the curated schema;
- a threshold bound no model could reach, such as an accuracy ``lower`` above 1;
- a golden reference set (``reference: {kind: path}``) that matches no files (a data finding).

Metrics with a ``module`` (custom classes) are not checked: only importing them would tell.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator

from components.evaluator import EvaluatorParams, MetricConfig
from components.evaluator.known_metrics import KERAS_METRICS, TFMA_METRICS
from components.evaluator.reference import golden_files
from components.schema_gen.checks import CuratedSchema, curated_schema
from pipelines.component import KeyPath
from pipelines.sdk import CheckContext, Finding

# The range each metric's value lies in, whatever the model: a bound outside it can never be
# met (a `lower` above the top) or can never fail (ignored here).
_FRACTION = (0.0, 1.0)
_NON_NEGATIVE = (0.0, math.inf)
_CORRELATION = (-1.0, 1.0)
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys((
        "AUC", "AUCPrecisionRecall", "Accuracy", "BalancedAccuracy", "BinaryAccuracy",
        "BinaryIoU", "COCOAveragePrecision", "COCOAverageRecall", "COCOMeanAveragePrecision",
        "COCOMeanAverageRecall", "CategoricalAccuracy", "ExactMatch", "F1Score", "FBetaScore",
        "FNR", "FPR", "FallOut", "FalseDiscoveryRate", "FalseOmissionRate",
        "FowlkesMallowsIndex", "IoU", "MaxRecall", "MeanIoU", "MissRate", "NDCG", "NPV",
        "NegToNegFlipRate", "NegToPosFlipRate", "NegativePredictiveValue",
        "ObjectDetectionMaxRecall", "ObjectDetectionPrecision",
        "ObjectDetectionPrecisionAtRecall", "ObjectDetectionRecall", "OneHotIoU",
        "OneHotMeanIoU", "PPV", "PosToNegFlipRate", "PosToPosFlipRate", "Precision",
        "PrecisionAtRecall", "PredictedPositiveRate", "Prevalence", "Recall",
        "RecallAtFalsePositiveRate", "RecallAtPrecision", "SensitivityAtSpecificity",
        "SetMatchPrecision", "SetMatchRecall", "SparseCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy", "Specificity", "SpecificityAtSensitivity",
        "SquaredPearsonCorrelation", "SymmetricFlipRate", "TNR", "TPR", "ThreatScore",
        "TopKCategoricalAccuracy",
    ), _FRACTION),
    **dict.fromkeys((
        "BinaryCrossEntropy", "BinaryCrossentropy", "CategoricalCrossEntropy",
        "CategoricalCrossentropy", "CategoricalHinge", "DiagnosticOddsRatio", "ExampleCount",
        "FN", "FP", "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence",
        "LogCoshError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
        "MeanRelativeError", "MeanSquaredError", "MeanSquaredLogarithmicError",
        "NegativeLikelihoodRatio", "PositiveLikelihoodRatio", "RootMeanSquaredError",
        "SparseCategoricalCrossentropy", "SquaredHinge", "TN", "TP", "TrueNegatives",
        "TruePositives",
    ), _NON_NEGATIVE),
    **dict.fromkeys((
        "CosineSimilarity", "Informedness", "Markedness", "MatthewsCorrelationCoefficient",
        "ModelCosineSimilarity",
    ), _CORRELATION),
    "R2Score": (-math.inf, 1.0),
}
KNOWN_METRICS = sorted(TFMA_METRICS | KERAS_METRICS)


def check(params: EvaluatorParams, ctx: CheckContext) -> Iterator[Finding]:
    for index, metric in enumerate(params.metrics):
        if metric.module:
            continue
        where: KeyPath = ("metrics", index)
        if metric.class_name not in TFMA_METRICS and metric.class_name not in KERAS_METRICS:
            yield Finding((*where, "class_name"), _unknown_metric(metric.class_name))
        else:
            yield from _unreachable_bounds(metric, where)
    schema = curated_schema(ctx)
    if schema is not None:
        yield from _schema_keys(params, schema)
    reference = params.reference
    if reference.kind == "path" and not golden_files(reference, ctx.config_dir):
        yield Finding(("reference", "path"),
                      f"the reference golden set {reference.path!r} matches no files (looked "
                      f"for {ctx.resolve_path(reference.path or '')})", data=True)


def _unknown_metric(name: str) -> str:
    close = difflib.get_close_matches(name, KNOWN_METRICS, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "."
    return (f"{name!r} is neither a TFMA nor a tf_keras metric{hint} Use a class name from "
            "tfma.metrics or tf_keras.metrics, or set `module` for a custom metric class.")


def _unreachable_bounds(metric: MetricConfig, where: KeyPath) -> Iterator[Finding]:
    """A ``lower`` above the metric's top or an ``upper`` below its bottom: never blessed."""
    threshold = metric.threshold
    span = RANGES.get(metric.class_name)
    if threshold is None or span is None:
        return
    low, high = span
    name = metric.class_name
    if threshold.lower is not None and threshold.lower > high:
        message = (f"lower {threshold.lower:g} can never be met: {name} is at most {high:g}, "
                   "so no model would ever be blessed")
        if span == _FRACTION and threshold.lower <= 100:
            message += (f"; write it as a fraction, e.g. {threshold.lower / 100:g} for "
                        f"{threshold.lower:g}%")
        yield Finding((*where, "threshold", "lower"), message)
    if threshold.upper is not None and threshold.upper < low:
        yield Finding((*where, "threshold", "upper"),
                      f"upper {threshold.upper:g} can never be met: {name} is never below "
                      f"{low:g}, so no model would ever be blessed")


def _schema_keys(params: EvaluatorParams, schema: CuratedSchema) -> Iterator[Finding]:
    """The label and every slice feature key must be features of the curated schema."""
    problem = schema.unknown("label_key", params.label_key)
    if problem:
        yield Finding(("label_key",), problem)
    slice_lists: list[tuple[KeyPath, list[list[str]]]] = [(("slices",), params.slices)]
    for index, metric in enumerate(params.metrics):
        if metric.threshold and metric.threshold.slices:
            slice_lists.append((("metrics", index, "threshold", "slices"),
                                metric.threshold.slices))
    for where, slices in slice_lists:
        for i, keys in enumerate(slices):
            for j, key in enumerate(keys):
                problem = schema.unknown("slice feature key", key)
                if problem:
                    yield Finding((*where, i, j), problem)
