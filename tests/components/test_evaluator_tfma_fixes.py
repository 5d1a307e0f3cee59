"""The fix for TFMA 0.47.1's self-merging metric combiners, down to a real two-worker Beam run.

The two-worker test is what shows the bug: before the fix, the shipped pupdates Evaluator
scored the same model's mean absolute error differently with two DirectRunner workers than in
one process (43.94 against 44.09 on 33.5k rows).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.components.test_evaluator import shipped_evaluator_params, summary
from tests.helpers import REPO, executor_context
from tests.pupdates_data import pupdates_model


class _SelfMerging:
    """The pattern of the bug, as TFMA 0.47.1 writes it."""

    def merge_accumulators(self, accumulators: Iterable[Any]) -> Any:
        result = next(iter(accumulators))
        for accumulator in accumulators:
            result.merge(accumulator)
        return result


def test_the_probe_tells_the_bug_from_a_correct_merge() -> None:
    from components.evaluator.tfma_fixes import merge_each_once, merges_first_twice

    assert merges_first_twice(_SelfMerging)

    class Fixed(_SelfMerging):
        merge_accumulators = merge_each_once

    assert not merges_first_twice(Fixed)


def test_every_affected_combiner_merges_each_accumulator_once() -> None:
    import tensorflow_model_analysis as tfma

    from components.evaluator import tfma_fixes

    if tfma.__version__ == "0.47.1":  # the version pinned in uv.lock has the bug in all five
        assert sorted(tfma_fixes.FIXED) == sorted(name for _, name in tfma_fixes.AFFECTED)
    for module, name in tfma_fixes.AFFECTED:
        combiner = getattr(importlib.import_module(module), name)
        assert not tfma_fixes.merges_first_twice(combiner), name


def test_a_real_accumulator_list_sums_once() -> None:
    from tensorflow_model_analysis.metrics import mean_regression_error as mre

    import components.evaluator.tfma_fixes  # noqa: F401  (applies the fix)

    parts = []
    for error, weight in ((10.0, 2.0), (30.0, 6.0), (5.0, 1.0)):
        accumulator = mre._MeanRegressionErrorAccumulator()
        accumulator.total_regression_error, accumulator.total_example_weights = error, weight
        parts.append(accumulator)
    merged = mre._MeanRegressionErrorCombiner.merge_accumulators(None, parts)  # type: ignore[arg-type]
    assert (merged.total_regression_error, merged.total_example_weights) == (45.0, 9.0)


def test_two_workers_score_the_shipped_pupdates_metrics_as_one_process_does(
    tmp_path: Path,
) -> None:
    """The Evaluator's reader gives each of two workers half of the one eval file's 8192-row
    batches (~10k eval rows: two batches), so every slice's metrics are merged from two
    accumulators."""
    from components.evaluator.executor import run as evaluate_model

    built = pupdates_model(tmp_path, rows=30_000, train_steps=20)
    scores = {}
    for mode, beam_args in (
        ("one process", ["--direct_running_mode=in_memory", "--direct_num_workers=1"]),
        ("two workers", ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]),
    ):
        ctx = executor_context(
            "Evaluator", tmp_path / mode,
            params=shipped_evaluator_params(REPO / "configs" / "pupdates.yaml"),
            inputs={"examples": [built.examples], "model": [built.model],
                    "schema": [built.schema]},
        )
        evaluate_model(dataclasses.replace(ctx, beam_args=beam_args))
        scores[mode] = summary(ctx)["slices"]
    one, two = scores["one process"], scores["two workers"]
    assert one.keys() == two.keys() and len(one) > 3  # overall and the countries
    for slice_name, metrics in one.items():
        for metric in ("mean_absolute_error", "mean_squared_error", "mean_prediction",
                       "example_count"):
            assert two[slice_name][metric]["value"] == pytest.approx(
                metrics[metric]["value"], rel=1e-6), (slice_name, metric)
