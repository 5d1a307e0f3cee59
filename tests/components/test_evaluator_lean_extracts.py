"""The Evaluator drops the features TFMA never reads before unbatching, and its results stay
exactly those of TFMA's default extractors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.components.test_evaluator import shipped_evaluator_params
from tests.helpers import REPO, executor_context
from tests.pupdates_data import pupdates_model


def eval_config(**params: Any) -> Any:
    from components.evaluator import EvaluatorParams
    from components.evaluator.eval_config import build_eval_config

    return build_eval_config(EvaluatorParams(label_key="likes", **params), with_baseline=False)


def test_only_slicing_features_are_read_by_the_shipped_metrics() -> None:
    from components.evaluator import EvaluatorParams
    from components.evaluator.eval_config import build_eval_config
    from components.evaluator.lean_extracts import Reads, reads_after_unbatch

    params = EvaluatorParams(**shipped_evaluator_params(REPO / "configs" / "pupdates.yaml"))
    for with_baseline in (False, True):
        config = build_eval_config(params, with_baseline)
        assert reads_after_unbatch(config) == Reads(frozenset({"country"}), raw_input=False)


def test_a_metric_preprocessor_s_features_and_a_query_key_are_kept() -> None:
    import tensorflow_model_analysis as tfma

    from components.evaluator.lean_extracts import reads_after_unbatch

    config = eval_config(metrics=[{"class_name": "MeanAbsoluteError", "threshold": {"upper": 9}}],
                         slices=[[], ["breed"]])
    config.metrics_specs.append(tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(class_name="FalsePositiveFeatureSampler",
                                   config='{"feature_key": "hashtags", "sample_size": 2}')],
        query_key="country",
    ))
    reads = reads_after_unbatch(config)
    assert reads is not None
    assert reads.features == {"breed", "hashtags", "country"}


class _ReadsAnything:
    """A preprocessor of the author's own: what it reads cannot be known."""

    def process(self, extracts: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield extracts


def test_nothing_is_dropped_when_a_preprocessor_may_read_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tensorflow_model_analysis.metrics import metric_specs, metric_types

    from components.evaluator.lean_extracts import reads_after_unbatch, with_lean_extracts

    config = eval_config(metrics=[{"class_name": "ExampleCount", "threshold": {"lower": 1}}])
    real = metric_specs.to_computations

    def with_custom_preprocessor(*args: Any, **kwargs: Any) -> Any:
        computations = real(*args, **kwargs)
        return [metric_types.MetricComputation(
            keys=c.keys, preprocessors=[_ReadsAnything()], combiner=c.combiner,
        ) if isinstance(c, metric_types.MetricComputation) else c for c in computations]

    monkeypatch.setattr(metric_specs, "to_computations", with_custom_preprocessor)
    assert reads_after_unbatch(config) is None
    extractors = [object()]
    assert with_lean_extracts(extractors, None) is extractors


def test_the_drop_keeps_read_features_per_model_and_the_raw_input_only_if_read() -> None:
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis import constants

    from components.evaluator.lean_extracts import (
        STAGE_NAME,
        DropUnread,
        Reads,
        with_lean_extracts,
    )

    batch = {
        constants.FEATURES_KEY: {"country": np.array([b"us"]), "breed": np.array([b"pug"])},
        constants.TRANSFORMED_FEATURES_KEY: {"candidate": {"country": 1, "x": 2},
                                        "baseline": {"x": 3}},
        constants.INPUT_KEY: np.array([b"raw"]),
        constants.LABELS_KEY: np.array([1.0]),
    }
    extractors = with_lean_extracts([tfma.extractors.UnbatchExtractor()],
                                    Reads(frozenset({"country"}), False))
    assert [e.stage_name for e in extractors] == [STAGE_NAME, "ExtractUnbatchedInputs"]
    drop = DropUnread(Reads(frozenset({"country"}), False))
    kept = drop(batch)
    assert set(kept[constants.FEATURES_KEY]) == {"country"}
    assert kept[constants.TRANSFORMED_FEATURES_KEY] == {"candidate": {"country": 1}, "baseline": {}}
    assert constants.INPUT_KEY not in kept and constants.LABELS_KEY in kept
    assert set(batch[constants.FEATURES_KEY]) == {"country", "breed"}  # the input is not changed
    with_input = DropUnread(Reads(frozenset(), True))(batch)
    assert constants.INPUT_KEY in with_input


def _records(path: Path, name: str) -> list[dict[str, Any]]:
    """A TFMA output file's records as dicts, in a stable order."""
    import json

    import tensorflow as tf
    from google.protobuf.json_format import MessageToDict
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2, validation_result_pb2

    kinds = {"metrics": metrics_for_slice_pb2.MetricsForSlice,
             "plots": metrics_for_slice_pb2.PlotsForSlice,
             "validations": validation_result_pb2.ValidationResult}
    [file] = sorted(path.glob(f"{name}*.tfrecord"))
    records = [MessageToDict(kinds[name].FromString(r.numpy()))
               for r in tf.data.TFRecordDataset(str(file))]
    return sorted(records, key=lambda r: json.dumps(r.get("sliceKey", {}), sort_keys=True))


def shipped_pupdates_twice(tmp_path: Path, change: Callable[[], None]) -> tuple[Path, Path]:
    """The shipped pupdates Evaluator (a baseline, slices by country, a threshold per country)
    in one process, as shipped and again after ``change()``: the two evaluations' paths."""
    from components.evaluator import executor

    candidate = pupdates_model(tmp_path / "candidate", rows=6_000, train_steps=20)
    baseline = pupdates_model(tmp_path / "baseline", rows=6_000, train_steps=2, pooch_bug=True)
    outputs = []
    for variant in ("shipped", "changed"):
        if variant == "changed":
            change()
        ctx = executor_context(
            "Evaluator", tmp_path / variant,
            params=shipped_evaluator_params(REPO / "configs" / "pupdates.yaml"),
            inputs={"examples": [candidate.examples], "model": [candidate.model],
                    "baseline_model": [baseline.model], "schema": [candidate.schema]},
        )
        executor.run(dataclasses.replace(ctx, beam_args=["--direct_running_mode=in_memory"]))
        outputs.append(ctx.outputs["evaluation"].path)
    return outputs[0], outputs[1]


def test_evaluation_equals_tfma_default_extractors_with_a_baseline_and_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once as shipped and once with TFMA's own extractors: every metric, plot and validation
    is the same."""
    from components.evaluator import executor

    lean, default = shipped_pupdates_twice(tmp_path, lambda: monkeypatch.setattr(
        executor, "with_lean_extracts", lambda e, reads: e))
    for name in ("metrics", "plots", "validations"):
        assert _records(lean, name) == _records(default, name), name
    metrics = _records(lean, "metrics")
    slices = {str(m.get("sliceKey", {})) for m in metrics}
    assert len(slices) > 3  # overall and the countries: slicing still saw its feature
