"""The Evaluator's YAML params as a TFMA ``EvalConfig``.

Semantics that differ from a plain TFMA config, on purpose:
- A threshold applies to the overall slice, plus the slices its own ``slices`` lists. TFMA's
  ``MetricConfig.threshold`` would apply it to every computed slice instead, so every threshold
  becomes a ``per_slice_thresholds`` entry.
- Change thresholds exist only when there is a baseline; on a first run they are dropped and
  only the value thresholds judge the model.
- Every slice a threshold names is computed, even when ``slices`` does not list it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable

import tensorflow_model_analysis as tfma
import tf_keras as keras
from tensorflow_model_analysis.metrics import metric_specs, metric_types

from components.evaluator import EvaluatorParams, MetricConfig, MetricThreshold
from pipelines.sdk import LockgateError

CANDIDATE = "candidate"
BASELINE = "baseline"
# TF_GENERIC: TFMA loads the SavedModel and calls the signature. Leaving the type unset makes
# TFMA load the whole model with Keras once more only to detect its type.
MODEL_TYPE = tfma.TF_GENERIC


class MetricConfigError(LockgateError):
    """A metric named in the Evaluator's params cannot be built."""


def slice_keys(params: EvaluatorParams) -> list[tuple[str, ...]]:
    """Every slice to compute: overall, the configured ones, and those thresholds name."""
    wanted: list[Iterable[str]] = [(), *params.slices]
    for metric in params.metrics:
        if metric.threshold and metric.threshold.slices:
            wanted.extend(metric.threshold.slices)
    return list(dict.fromkeys(tuple(keys) for keys in wanted))


def has_change_thresholds(params: EvaluatorParams) -> bool:
    return any(m.threshold and m.threshold.change for m in params.metrics)


def has_value_thresholds(params: EvaluatorParams) -> bool:
    return any(
        m.threshold and (m.threshold.lower is not None or m.threshold.upper is not None)
        for m in params.metrics
    )


def build_eval_config(params: EvaluatorParams, with_baseline: bool) -> tfma.EvalConfig:
    """The EvalConfig for the candidate and, ``with_baseline``, the baseline model."""
    models = [_model_spec(params, CANDIDATE, is_baseline=False)]
    if with_baseline:
        models.append(_model_spec(params, BASELINE, is_baseline=True))
    return tfma.EvalConfig(
        model_specs=models,
        slicing_specs=[_slicing_spec(keys) for keys in slice_keys(params)],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[*(_metric(m, with_baseline) for m in params.metrics),
                                      *row_count_metrics(params)]),
            *plot_specs(params),
        ],
    )


ROWS_METRIC = "example_count"  # TFMA's ExampleCount: the rows each model scored


def row_count_metrics(params: EvaluatorParams) -> list[tfma.MetricConfig]:
    """ExampleCount when the config does not name it: the executor checks that every model
    scored every row (a Beam runner can lose rows between stages)."""
    if any(m.class_name == "ExampleCount" and not m.module for m in params.metrics):
        return []
    return [tfma.MetricConfig(class_name="ExampleCount")]


# The plots the offline evaluation page draws (pipelines/reports/evaluation.py); no threshold
# reads them. They apply to classifiers only, told by the metrics the config names: one that
# scores a class vector gets the multi-class confusion matrix, plus ROC/PR (from the binary
# confusion matrices) and calibration micro-averaged over the classes; one that scores a single
# probability gets the binary plots as they are; a regression (or any other metric) gets none.
# `plots: false` skips them: on 333k numeric eval rows they were a fifth of the Evaluator
# (45.3 and 48.7 s with, 37.0 and 38.1 s without; TFMA's calibration histogram, per example).
MULTI_CLASS_METRICS = {"SparseCategoricalAccuracy", "CategoricalAccuracy",
                       "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
                       "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy"}
BINARY_METRICS = {"BinaryAccuracy", "BinaryCrossentropy", "AUC", "AUCPrecisionRecall",
                  "Precision", "Recall", "ConfusionMatrixAtThresholds"}


def plot_specs(params: EvaluatorParams) -> list[tfma.MetricsSpec]:
    if not params.plots:
        return []
    names = {m.class_name for m in params.metrics if not m.module}
    binary_plots = [tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
                    tfma.MetricConfig(class_name="CalibrationPlot")]
    if names & MULTI_CLASS_METRICS:
        return [
            tfma.MetricsSpec(
                metrics=[tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot")]),
            tfma.MetricsSpec(metrics=binary_plots,
                             aggregate=tfma.AggregationOptions(micro_average=True)),
        ]
    if names & BINARY_METRICS:
        return [tfma.MetricsSpec(metrics=binary_plots)]
    return []


def metric_names(params: EvaluatorParams) -> list[str]:
    """Each configured metric's key name in TFMA's results, in config order; raises
    ``MetricConfigError`` naming the metric when a class cannot be built (a typo, a bad
    ``module`` or ``config``), before any model is loaded."""
    names = []
    for metric in params.metrics:
        try:
            instance = metric_specs.metric_instance(_metric(metric, with_baseline=False))
        except Exception as exc:  # TFMA and Keras raise ValueError, ImportError, TypeError...
            raise MetricConfigError(_unknown_metric(metric, exc)) from exc
        names.append(str(instance.name))
    return names


def _model_spec(params: EvaluatorParams, name: str, is_baseline: bool) -> tfma.ModelSpec:
    spec = tfma.ModelSpec(
        name=name,
        signature_name=params.signature_name,
        label_key=params.label_key,
        model_type=MODEL_TYPE,
        is_baseline=is_baseline,
    )
    if params.prediction_key:
        spec.prediction_key = params.prediction_key
    return spec


def _slicing_spec(keys: Iterable[str]) -> tfma.SlicingSpec:
    return tfma.SlicingSpec(feature_keys=list(keys))


def _metric(metric: MetricConfig, with_baseline: bool) -> tfma.MetricConfig:
    config = tfma.MetricConfig(class_name=metric.class_name)
    if metric.module:
        config.module = metric.module
    if metric.config:
        config.config = json.dumps(metric.config, sort_keys=True)
    threshold = _threshold(metric.threshold, with_baseline) if metric.threshold else None
    if threshold is not None:
        assert metric.threshold is not None
        slices = [(), *(tuple(s) for s in metric.threshold.slices or [])]
        config.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(
                slicing_specs=[_slicing_spec(keys) for keys in dict.fromkeys(slices)],
                threshold=threshold,
            )
        )
    return config


def _threshold(threshold: MetricThreshold, with_baseline: bool) -> tfma.MetricThreshold | None:
    result = tfma.MetricThreshold()
    if threshold.lower is not None or threshold.upper is not None:
        value = result.value_threshold
        if threshold.lower is not None:
            value.lower_bound.value = threshold.lower
        if threshold.upper is not None:
            value.upper_bound.value = threshold.upper
    if threshold.change and with_baseline:
        change = result.change_threshold
        change.direction = (
            tfma.MetricDirection.HIGHER_IS_BETTER
            if threshold.change.direction == "higher_is_better"
            else tfma.MetricDirection.LOWER_IS_BETTER
        )
        change.absolute.value = threshold.change.absolute
    if not result.HasField("value_threshold") and not result.HasField("change_threshold"):
        return None
    return result


def _unknown_metric(metric: MetricConfig, exc: Exception) -> str:
    where = f" from module '{metric.module}'" if metric.module else ""
    text = (
        f"Evaluator metric '{metric.class_name}'{where} cannot be built: "
        f"{type(exc).__name__}: {exc}"
    )
    if not metric.module:
        known = sorted(
            {*metric_types.registered_metrics(), *_keras_classes(keras.metrics.Metric)}
        )
        close = difflib.get_close_matches(metric.class_name, known, n=3)
        if close:
            text += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        text += " Use a tfma.metrics or tf_keras.metrics class name, or set `module`."
    return text


def _keras_classes(base: type) -> list[str]:
    return [
        name for name, value in vars(keras.metrics).items()
        if isinstance(value, type) and issubclass(value, base)
    ]
