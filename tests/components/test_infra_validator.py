"""InfraValidator executor, on real SavedModels served in real canary processes (the Pusher's
infra gate is tested in test_pusher.py).

Each model is a tf.Module whose ``serving_default`` parses real penguin tf.Examples, then
behaves as named: answers, raises, spins forever, is slow, aborts the process, or allocates a
gigabyte. Only TensorFlow ops are used (a ``tf.py_function`` is not saved in a SavedModel), so
the canary sees exactly what a model server would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components.evaluator.markers import BLESSED_FILE, BLESSING_FILE, NOT_BLESSED_FILE
from components.infra_validator import InfraValidatorParams
from components.infra_validator.markers import (
    INFRA_BLESSED_FILE,
    INFRA_BLESSING_FILE,
    INFRA_NOT_BLESSED_FILE,
)
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError
from pipelines.sdk import layout
from tests.helpers import executor_context
from tests.penguin_data import penguin_inputs

BEHAVIOURS = ("good", "raises", "hangs", "slow", "aborts", "hungry", "scalar")
SLOW_SECONDS = 0.03


def save_canary_model(directory: Path, behaviour: str) -> None:
    """A SavedModel over raw penguin examples whose signature does ``behaviour``."""
    import tensorflow as tf

    def spin(seconds: float) -> tf.Tensor:
        """Busy-wait in graph ops for ``seconds`` (forever, for a huge value)."""
        start = tf.timestamp()
        [end] = tf.while_loop(lambda now: now - start < seconds, lambda now: tf.timestamp(),
                              [start])
        return end

    class Canary(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
            spec = {"body_mass_g": tf.io.FixedLenFeature([1], tf.float32)}
            mass = tf.io.parse_example(examples, spec)["body_mass_g"]
            effects = []
            if behaviour == "raises":
                effects.append(tf.debugging.assert_equal(
                    tf.shape(mass)[0], -1, message="this model refuses every request"))
            elif behaviour == "hangs":
                effects.append(spin(1e9))
            elif behaviour == "slow":
                effects.append(spin(SLOW_SECONDS))
            elif behaviour == "aborts":
                effects.append(tf.raw_ops.Abort(error_msg="canary model aborts"))
            elif behaviour == "hungry":  # 1 GiB of random floats: nothing can fold them away
                noise = tf.random.uniform([tf.shape(mass)[0] * 256 * 1024 * 1024])
                mass += 0 * tf.reduce_max(noise)
            with tf.control_dependencies(effects):
                score = tf.identity(mass * self.scale)
            if behaviour == "scalar":
                return {"score": tf.reduce_sum(score)}  # one answer for the whole request
            return {"score": score}

    module = Canary()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    found = {}
    for model_id, behaviour in enumerate(BEHAVIOURS, 1):
        uri = tmp_path_factory.mktemp(f"model-{behaviour}")
        save_canary_model(uri / layout.SERVING_MODEL_DIR, behaviour)
        found[behaviour] = Artifact("Model", str(uri), id=model_id)
    return found


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    examples, _ = penguin_inputs(tmp_path_factory.mktemp("penguin"))
    examples.id = 50
    return examples  # eval split: 114 penguins


def validate(
    tmp_path: Path, model: Artifact, examples: Artifact, blessing: Artifact | None = None,
    **params: Any,
) -> tuple[ExecutionContext, ExecutorResult, dict[str, Any]]:
    from components.infra_validator.executor import run

    inputs = {"model": [model], "examples": [examples]}
    if blessing is not None:
        inputs["blessing"] = [blessing]
    ctx = executor_context("InfraValidator", tmp_path, params=params, inputs=inputs)
    result = run(ctx)
    path = ctx.outputs["infra_blessing"].path / INFRA_BLESSING_FILE
    record = json.loads(path.read_text()) if path.is_file() else {}
    return ctx, result, record


def assert_refused(ctx: ExecutionContext, result: ExecutorResult, record: dict[str, Any],
                   *phrases: str) -> None:
    out = ctx.outputs["infra_blessing"]
    assert result.outcome == "complete"  # the node completes; its verdict is the output
    assert (out.path / INFRA_NOT_BLESSED_FILE).is_file()
    assert not (out.path / INFRA_BLESSED_FILE).exists()
    assert out.properties["blessed"] == 0 and result.properties["blessed"] == 0
    assert record["blessed"] is False
    for phrase in phrases:
        assert phrase in record["reason"], record["reason"]
    assert result.message == f"not infra blessed: {record['reason']}"


def test_healthy_model_is_blessed_with_its_measurements(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["good"], examples, requests=150,
                                   batch_size=50, max_latency_p99_ms=5000, max_memory_mb=4096)
    out = ctx.outputs["infra_blessing"]
    assert result.outcome == "complete", result.message
    assert (out.path / INFRA_BLESSED_FILE).is_file()
    assert not (out.path / INFRA_NOT_BLESSED_FILE).exists()
    assert out.properties == {"blessed": 1, "model_id": models["good"].id}
    assert record["blessed"] is True and record["reason"] == ""
    # 150 requested from a split of 114: cycled, in 3 requests of 50 after one warm-up.
    assert (record["requests"], record["distinct_examples"]) == (150, 114)
    assert record["answered_requests"] == 3
    assert 0 < record["latency_p50_ms"] <= record["latency_p99_ms"] <= record["latency_max_ms"]
    # TensorFlow alone is hundreds of MB; the peak includes it and is at least the startup.
    assert 100 < record["startup_memory_mb"] <= record["peak_memory_mb"] < 4096
    assert record["load_seconds"] > 0 and record["canary_seconds"] > record["load_seconds"]
    assert result.properties["latency_p99_ms"] == record["latency_p99_ms"]
    assert result.message.startswith("infra blessed: 150 examples answered in 3 request(s)")
    assert (out.path / "canary.log").is_file()


def test_signature_that_raises_is_not_blessed(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["raises"], examples, requests=5)
    assert_refused(ctx, result, record, "the serving signature failed on the warm-up request",
                   "InvalidArgumentError", "this model refuses every request")
    assert record["answered_requests"] == 0


def test_model_that_hangs_is_killed_at_the_timeout(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    started = time.monotonic()
    ctx, result, record = validate(tmp_path, models["hangs"], examples, requests=5,
                                   timeout_seconds=4)
    assert_refused(ctx, result, record, "timed out after timeout_seconds 4",
                   "serving the warm-up request", "was killed")
    assert record["returncode"] == -9  # SIGKILLed by the parent, not left running
    assert record["load_seconds"] is not None  # it loaded; the request is what hung
    assert time.monotonic() - started < 120


def test_slow_model_fails_the_latency_bound(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["slow"], examples, requests=6,
                                   max_latency_p50_ms=10, max_latency_p99_ms=1000)
    assert_refused(ctx, result, record, "p50 latency", "> max_latency_p50_ms 10")
    assert "max_latency_p99_ms" not in record["reason"]  # 30 ms is within the p99 bound
    assert record["answered_requests"] == 6  # every request answered, just too slowly
    assert record["latency_p50_ms"] >= SLOW_SECONDS * 1000


def test_model_that_aborts_the_process_is_not_blessed(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["aborts"], examples, requests=5)
    assert_refused(ctx, result, record, "the serving process was killed by signal SIGABRT",
                   "while serving the warm-up request")
    assert "canary model aborts" in record["stderr_tail"]


def test_memory_bound_kills_a_model_that_allocates_too_much(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["hungry"], examples, requests=2,
                                   max_memory_mb=1200)
    assert_refused(ctx, result, record, "above max_memory_mb 1200")
    assert record["peak_memory_mb"] >= 1200  # killed as soon as it crossed the bound


def test_answer_without_one_row_per_example_is_not_blessed(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    ctx, result, record = validate(tmp_path, models["scalar"], examples, requests=4,
                                   batch_size=2)
    assert_refused(ctx, result, record, "output 'score' has shape [] for a request of 2")


def test_model_that_does_not_load_is_not_blessed(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    broken = Artifact("Model", str(tmp_path / "broken"), id=99)
    (broken.path / layout.SERVING_MODEL_DIR).mkdir(parents=True)
    (broken.path / layout.SERVING_MODEL_DIR / "saved_model.pb").write_bytes(b"not a proto")
    ctx, result, record = validate(tmp_path, broken, examples, requests=3)
    assert_refused(ctx, result, record, "the model failed to load: ")
    assert record["load_seconds"] is None and record["answered_requests"] == 0


def evaluator_blessing(tmp_path: Path, model_id: int, blessed: bool) -> Artifact:
    uri = tmp_path / f"blessing-{model_id}-{int(blessed)}"
    uri.mkdir(parents=True)
    (uri / (BLESSED_FILE if blessed else NOT_BLESSED_FILE)).touch()
    message = "sparse_categorical_accuracy 0.5 < lower bound 0.6 (overall)"
    (uri / BLESSING_FILE).write_text(json.dumps(
        {"blessed": blessed, "failures": [] if blessed else [{"message": message}]}))
    return Artifact("ModelBlessing", str(uri), id=200 + model_id,
                    properties={"blessed": int(blessed), "model_id": model_id})


def test_model_the_evaluator_refused_is_not_canaried(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    good = models["good"]
    assert good.id is not None
    started = time.monotonic()
    ctx, result, record = validate(tmp_path, good, examples,
                                   evaluator_blessing(tmp_path, good.id, blessed=False))
    # Completes (a skip would make Airflow skip the Pusher unrun), with a negative verdict.
    assert_refused(ctx, result, record, f"not validated: the Evaluator did not bless model "
                   f"{good.id}: sparse_categorical_accuracy 0.5 < lower bound 0.6 (overall)")
    assert record["validated"] is False
    assert not (ctx.outputs["infra_blessing"].path / "canary.log").exists()
    assert time.monotonic() - started < 5  # no serving process was started


def test_missing_split_is_a_data_error(
    tmp_path: Path, models: dict[str, Artifact], examples: Artifact
) -> None:
    with pytest.raises(DataError, match="has no split 'holdout' \\(it has train, eval\\)"):
        validate(tmp_path, models["good"], examples, split="holdout")


def test_p50_bound_above_p99_bound_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="can never exceed"):
        InfraValidatorParams(max_latency_p50_ms=50, max_latency_p99_ms=10)
