"""TFMA's combiners share one extraction of each example's label, prediction and weight, and the
evaluation stays exactly TFMA's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.components.test_evaluator_lean_extracts import _records, shipped_pupdates_twice


def example(label: Any, prediction: Any, weight: float = 1.0) -> Any:
    from tensorflow_model_analysis.metrics import metric_types

    return metric_types.StandardMetricInputs({
        "labels": np.array(label), "predictions": np.array(prediction),
        "example_weights": np.array([weight]),
    })


def without_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """TFMA as it ships, for this test: the original function, also as default argument."""
    from tensorflow_model_analysis.metrics import metric_util

    from components.evaluator import label_prediction_cache as cache

    monkeypatch.setattr(metric_util, "to_label_prediction_example_weight", cache.ORIGINAL)
    for function in cache.REBOUND:
        defaults = tuple(cache.ORIGINAL if d is cache.shared_extraction else d
                         for d in function.__defaults__ or ())
        monkeypatch.setattr(function, "__defaults__", defaults)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Every call that reaches TFMA's own function through the cache."""
    from components.evaluator import label_prediction_cache as cache

    seen: list[tuple[Any, dict[str, Any]]] = []
    original = cache.ORIGINAL

    def counted(inputs: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        seen.append((inputs, kwargs))
        return original(inputs, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(cache, "ORIGINAL", counted)
    monkeypatch.setattr(cache._last, "example", None, raising=False)
    return seen


def _values(results: Iterator[Any]) -> list[list[list[float]]]:
    return [[np.asarray(v).tolist() for v in triple] for triple in results]


def test_every_tfma_caller_goes_through_the_cache() -> None:
    from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_util

    from components.evaluator import label_prediction_cache as cache

    assert metric_util.to_label_prediction_example_weight is cache.shared_extraction
    assert binary_confusion_matrices.binary_confusion_matrices in cache.REBOUND
    for function in cache.REBOUND:
        assert cache.ORIGINAL not in (function.__defaults__ or ()), function.__qualname__


def test_the_same_example_and_arguments_are_computed_once(calls: list[Any]) -> None:
    from components.evaluator.label_prediction_cache import shared_extraction

    tfma_own = shared_extraction.__wrapped__  # type: ignore[attr-defined]
    one, two = example([2], [0.3, 0.6, 0.1]), example([0], [0.2, 0.5, 0.3], weight=2.0)
    asked = [
        (one, {"flatten": True}), (one, {"flatten": True}), (one, {"flatten": False}),
        (one, {"flatten": True, "example_weighted": True}), (two, {"flatten": True}),
        (two, {"flatten": True, "example_weighted": True}), (one, {"flatten": True}),
    ]
    for inputs, kwargs in asked:
        assert _values(shared_extraction(inputs, **kwargs)) == _values(tfma_own(inputs, **kwargs))
    # Computed: one's three argument sets, two's two, and one again once two came between.
    assert [(i is one, k) for i, k in calls] == [
        (True, {"flatten": True}), (True, {"flatten": False}),
        (True, {"flatten": True, "example_weighted": True}),
        (False, {"flatten": True}), (False, {"flatten": True, "example_weighted": True}),
        (True, {"flatten": True}),
    ]
    flattened = _values(shared_extraction(two, flatten=True, example_weighted=True))
    assert flattened == [[[1.0], [0.2], [2.0]], [[0.0], [0.5], [2.0]], [[0.0], [0.3], [2.0]]]


def test_an_argument_made_afresh_for_each_call_is_not_taken_for_an_earlier_one() -> None:
    """A dict of class weights built for each call: once freed, its identity could go to the
    next one, which must not then be answered from the first one's values."""
    from components.evaluator.label_prediction_cache import shared_extraction

    tfma_own = shared_extraction.__wrapped__  # type: ignore[attr-defined]
    inputs = example([2], [0.3, 0.6, 0.1])
    for weight in (1.0, 0.0, 2.0, 0.5):
        got = _values(shared_extraction(inputs, class_weights={0: weight, 2: 1.0}))
        assert got == _values(tfma_own(inputs, class_weights={0: weight, 2: 1.0})), weight


def test_an_error_is_raised_when_iterated_as_tfma_raises_it_and_not_kept(
    calls: list[Any],
) -> None:
    from components.evaluator.label_prediction_cache import shared_extraction

    bad = example([1.5], [0.7])  # fractional labels must lie in [0, 1]
    results = shared_extraction(bad, fractional_labels=True)
    assert calls == []  # nothing computed before the values are asked for
    for _ in range(2):
        with pytest.raises(ValueError, match=r"label must be within \[0, 1\]"):
            list(shared_extraction(bad, fractional_labels=True))
    with pytest.raises(ValueError, match="within"):
        next(results)
    assert len(calls) == 3


def test_evaluation_equals_tfma_without_the_cache_with_a_baseline_and_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shipped pupdates Evaluator: four metrics, each example in two slices, two models.
    Every metric and validation is the same with and without the cache."""
    cached, tfma = shipped_pupdates_twice(tmp_path, lambda: without_cache(monkeypatch))
    for name in ("metrics", "validations"):
        assert _records(cached, name) == _records(tfma, name), name
    assert len(_records(cached, "metrics")) > 3  # overall and the countries


def _accumulated(examples: list[Any]) -> dict[Any, Any]:
    """What TFMA's combiners for a binary classifier's metrics and plots accumulate over
    ``examples``: the confusion matrices and calibration histograms the metrics derive from."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_specs, metric_types

    specs = tfma.metrics.specs_from_metrics([
        tfma.metrics.BinaryAccuracy(), tfma.metrics.AUC(), tfma.metrics.ConfusionMatrixPlot(),
        tfma.metrics.CalibrationPlot(), tfma.metrics.MeanPrediction(),
        tfma.metrics.ExampleCount(),
    ])
    results: dict[Any, Any] = {}
    for computation in metric_specs.to_computations(specs, eval_config=tfma.EvalConfig()):
        if not isinstance(computation, metric_types.MetricComputation):
            continue  # derived from these results
        combiner = computation.combiner
        combiner.setup()
        accumulator = combiner.create_accumulator()
        for inputs in examples:
            accumulator = combiner.add_input(accumulator, inputs)
        results.update(combiner.extract_output(combiner.compact(accumulator)))
    return results


def test_binary_classifier_metrics_and_plots_accumulate_as_without_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """BinaryAccuracy and AUC (confusion matrices, which bind the function as a default
    argument), the plots' calibration histogram, MeanPrediction, ExampleCount."""
    rng = np.random.default_rng(3)
    examples = [example([float(rng.integers(0, 2))], [float(rng.random())])
                for _ in range(400)]
    cached = _accumulated(examples)
    without_cache(monkeypatch)
    tfma = _accumulated(examples)
    assert cached.keys() == tfma.keys() and len(cached) >= 4
    for key, value in tfma.items():
        assert _plain(cached[key]) == _plain(value), key


def _plain(value: Any) -> Any:
    """An accumulated value as plain data: TFMA's accumulators do not define equality."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {repr(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [type(value).__name__, *(_plain(v) for v in value)]
    if hasattr(value, "__dict__"):
        return [type(value).__name__, _plain(vars(value))]
    if hasattr(value, "__slots__"):
        return [type(value).__name__, {s: _plain(getattr(value, s)) for s in value.__slots__}]
    return value
