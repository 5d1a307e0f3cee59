"""The Evaluator computes the plots the evaluation page draws, for classifiers only: a
regression's predictions are no probabilities, and TFMA's multi-class confusion matrix
refuses a single-probability output."""

from __future__ import annotations

from typing import Any

from components.evaluator import EvaluatorParams
from components.evaluator.eval_config import build_eval_config


def plots(metrics: list[dict[str, Any]], **extra: Any) -> list[tuple[list[str], bool]]:
    params = EvaluatorParams(label_key="y", metrics=metrics, **extra)
    config = build_eval_config(params, with_baseline=False)
    return [([m.class_name for m in spec.metrics], spec.aggregate.micro_average)
            for spec in config.metrics_specs[1:]]


def test_a_multi_class_classifier_gets_the_confusion_matrix_and_micro_averaged_curves() -> None:
    assert plots([{"class_name": "SparseCategoricalAccuracy", "threshold": {"lower": 0.5}}]) == [
        (["MultiClassConfusionMatrixPlot"], False),
        (["ConfusionMatrixPlot", "CalibrationPlot"], True),
    ]


def test_a_binary_classifier_gets_the_binary_plots() -> None:
    assert plots([{"class_name": "AUC", "threshold": {"lower": 0.5}}]) == [
        (["ConfusionMatrixPlot", "CalibrationPlot"], False)]


def test_a_regression_gets_no_plots() -> None:
    assert plots([{"class_name": "MeanAbsoluteError", "threshold": {"upper": 10.0}}]) == []


def test_plots_false_computes_none_for_a_classifier() -> None:
    accuracy = [{"class_name": "AUC", "threshold": {"lower": 0.5}}]
    assert plots(accuracy, plots=False) == []
    assert plots(accuracy, plots=True) != []
