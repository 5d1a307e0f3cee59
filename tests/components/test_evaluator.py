"""Evaluator executor against real TFMA, on penguin models really trained by the Trainer.

Two models are trained once per module: a "good" one (30 steps) and a "bad" one (1 step at a
tiny learning rate, so near chance). The thresholds are chosen so each verdict is forced by the
data, not by luck of training: the eval split has 50, 23 and 41 penguins of species 0, 1, 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.evaluator.markers import BLESSED_FILE, BLESSING_FILE, NOT_BLESSED_FILE
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError
from tests.helpers import REPO, executor_context
from tests.penguin_data import LABEL, PENGUIN_PREPROCESSING, penguin_inputs, run_transform
from tests.pupdates_data import pupdates_model

PENGUIN_MODEL = REPO / "examples" / "penguin" / "model.py"
ACCURACY = "sparse_categorical_accuracy"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    import tf_keras as keras

    from components.trainer.executor import run as train

    examples, schema = penguin_inputs(tmp_path_factory.mktemp("penguin"))
    transform = run_transform(
        tmp_path_factory.mktemp("transform"), (examples, schema), PENGUIN_PREPROCESSING
    )
    trainer_inputs = {
        "examples": [transform.outputs["transformed_examples"]],
        "transform_graph": [transform.outputs["transform_graph"]],
        "schema": [schema],
    }
    models = {}
    for model_id, (name, steps, rate) in enumerate([("good", 30, 0.05), ("bad", 1, 1e-4)], 1):
        keras.utils.set_random_seed(7)
        ctx = executor_context(
            "Trainer", tmp_path_factory.mktemp(name),
            params={"module_file": str(PENGUIN_MODEL), "label_key": LABEL, "train_steps": steps,
                    "eval_steps": 1, "hyperparameters": {"hidden_units": [8, 8],
                                                         "learning_rate": rate}},
            inputs=trainer_inputs,
        )
        train(ctx)
        models[name] = ctx.outputs["model"]
        models[name].id = model_id
    return {"examples": examples, "schema": schema, **models}


def evaluate(
    tmp_path: Path, data: dict[str, Artifact], metrics: list[dict[str, Any]],
    model: str = "good", baseline: str | None = None, **params: Any,
) -> tuple[ExecutionContext, ExecutorResult]:
    from components.evaluator.executor import run

    inputs = {"examples": [data["examples"]], "model": [data[model]], "schema": [data["schema"]]}
    if baseline:
        inputs["baseline_model"] = [data[baseline]]
    ctx = executor_context("Evaluator", tmp_path, inputs=inputs,
                           params={"label_key": LABEL, "metrics": metrics, **params})
    return ctx, run(ctx)


def blessing(ctx: ExecutionContext) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((ctx.outputs["blessing"].path / BLESSING_FILE).read_text())
    return record


def summary(ctx: ExecutionContext) -> dict[str, Any]:
    path = ctx.outputs["evaluation"].path / "summary.json"
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def test_first_model_is_blessed_on_value_thresholds_alone(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    ctx, result = evaluate(tmp_path, data, [
        {"class_name": "SparseCategoricalAccuracy",
         "threshold": {"lower": 0.3, "change": {"direction": "higher_is_better"}}},
        {"class_name": "ExampleCount"},
    ])
    out = ctx.outputs["blessing"]
    assert (out.path / BLESSED_FILE).is_file() and not (out.path / NOT_BLESSED_FILE).exists()
    assert out.properties == {"blessed": 1, "model_id": 1, "baseline_model_id": -1}
    assert blessing(ctx)["failures"] == []
    assert result.outcome == "complete" and result.message.startswith("blessed")
    assert "change thresholds not applied" in result.message  # no baseline on a first run

    overall = summary(ctx)["slices"]["overall"]
    assert overall["example_count"]["value"] == 114  # the eval split: every third penguin
    accuracy = overall[ACCURACY]["value"]
    assert 0.3 <= accuracy <= 1.0
    assert ctx.outputs["evaluation"].properties[ACCURACY] == pytest.approx(accuracy)
    assert list(ctx.outputs["evaluation"].path.glob("metrics-*"))  # TFMA's own output
    assert result.properties["eval_seconds"] > 0


def test_every_row_is_scored_by_every_model_or_nothing_is_blessed(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    """A Beam runner once lost a third of a 10M-row split between stages (in Transform). The
    Evaluator counts the rows each model scored (TFMA's ExampleCount, added when the config
    does not name it) against the rows the Examples recorded."""
    import dataclasses

    ctx, _ = evaluate(tmp_path / "all", data, change_threshold(), model="good", baseline="bad")
    counted = summary(ctx)["slices"]["overall"]["example_count"]
    assert (counted["value"], counted["baseline"]) == (114, 114)
    assert blessing(ctx)["judgements"]["eval"]["rows"] == 114

    examples = data["examples"]
    claims_more = dataclasses.replace(examples, properties={
        **examples.properties, "split_rows": json.dumps({"train": 228, "eval": 120})})
    with pytest.raises(DataError, match=(
        rf"TFMA scored 114 rows of the 'eval' split of Examples {examples.id} with the "
        r"candidate model, but those Examples hold 120: the Beam runner lost or repeated rows, "
        r"so the model is not judged and nothing is blessed")):
        evaluate(tmp_path / "lost", {**data, "examples": claims_more}, change_threshold(),
                 model="good", baseline="bad")
    assert not list((tmp_path / "lost" / "out" / "blessing").iterdir())


def test_plots_false_gives_the_same_metrics_without_plots(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    import tensorflow_model_analysis as tfma

    metrics = [{"class_name": "SparseCategoricalAccuracy", "threshold": {"lower": 0.3}},
               {"class_name": "ExampleCount"}]
    drawn, _ = evaluate(tmp_path / "plots", data, metrics)
    bare, _ = evaluate(tmp_path / "bare", data, metrics, plots=False)
    assert summary(bare)["slices"] == summary(drawn)["slices"]
    def plotted(ctx: ExecutionContext) -> int:  # TFMA writes an empty record per slice
        return sum(len(record.plot_keys_and_values)
                   for record in tfma.load_plots(ctx.outputs["evaluation"].uri))

    assert plotted(drawn) > 0 and plotted(bare) == 0


def test_not_blessed_lists_every_failed_metric_and_slice(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    # Accuracy can never reach 1.01. At least 30 examples per species fails species=1 only
    # (23 penguins) and passes overall (114).
    ctx, result = evaluate(tmp_path, data, [
        {"class_name": "SparseCategoricalAccuracy", "threshold": {"lower": 1.01}},
        {"class_name": "ExampleCount", "threshold": {"lower": 30, "slices": [[LABEL]]}},
    ])
    out = ctx.outputs["blessing"]
    assert (out.path / NOT_BLESSED_FILE).is_file() and not (out.path / BLESSED_FILE).exists()
    assert out.properties["blessed"] == 0

    slices = summary(ctx)["slices"]
    failures = {(f["metric"], f["slice"]): f for f in blessing(ctx)["failures"]}
    assert set(failures) == {(ACCURACY, "overall"), ("example_count", f"{LABEL}=1")}
    accuracy = failures[ACCURACY, "overall"]
    assert accuracy["kind"] == "lower" and accuracy["bound"] == 1.01
    assert accuracy["value"] == pytest.approx(slices["overall"][ACCURACY]["value"])
    count = failures["example_count", f"{LABEL}=1"]
    assert (count["kind"], count["bound"], count["value"]) == ("lower", 30, 23)
    # The other slices were computed and checked, and passed.
    assert [slices[f"{LABEL}={s}"]["example_count"]["value"] for s in (0, 2)] == [50, 41]

    assert result.outcome == "complete"
    assert result.message.startswith(f"not blessed: {ACCURACY} ")
    assert "< lower bound 1.01 (overall)" in result.message
    assert f"example_count 23 < lower bound 30 ({LABEL}=1)" in result.message


def change_threshold() -> list[dict[str, Any]]:
    return [{"class_name": "SparseCategoricalAccuracy",
             "threshold": {"lower": 0.0, "change": {"direction": "higher_is_better",
                                                    "absolute": 0.0}}}]


def test_change_threshold_refuses_a_model_worse_than_the_baseline(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    ctx, result = evaluate(tmp_path, data, change_threshold(), model="bad", baseline="good")
    assert ctx.outputs["blessing"].properties == {
        "blessed": 0, "model_id": 2, "baseline_model_id": 1
    }
    overall = summary(ctx)["slices"]["overall"][ACCURACY]
    assert overall["baseline"] > overall["value"]
    assert overall["change"] == pytest.approx(overall["value"] - overall["baseline"])
    [failure] = blessing(ctx)["failures"]
    assert failure["kind"] == "change" and failure["direction"] == "higher_is_better"
    assert failure["baseline"] == pytest.approx(overall["baseline"])
    assert failure["change"] == pytest.approx(overall["change"])
    assert result.message.startswith(f"not blessed: {ACCURACY} ")
    assert "vs baseline" in result.message and "< allowed +0 " in result.message


def test_change_threshold_blesses_a_model_better_than_the_baseline(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    ctx, result = evaluate(tmp_path, data, change_threshold(), model="good", baseline="bad")
    assert ctx.outputs["blessing"].properties["blessed"] == 1
    assert (ctx.outputs["blessing"].path / BLESSED_FILE).is_file()
    assert summary(ctx)["slices"]["overall"][ACCURACY]["change"] > 0
    assert result.message.startswith("blessed vs baseline model 2")


def test_misspelt_metric_is_named_with_a_suggestion(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    from components.evaluator.eval_config import MetricConfigError

    with pytest.raises(MetricConfigError, match=r"'SparseCategoricalAcuracy'.*did you mean "
                                                r"'SparseCategoricalAccuracy'"):
        evaluate(tmp_path, data, [
            {"class_name": "SparseCategoricalAcuracy", "threshold": {"lower": 0.5}}
        ])


def test_unknown_slice_feature_is_named(tmp_path: Path, data: dict[str, Artifact]) -> None:
    with pytest.raises(DataError, match=r"slices: 'island'") as info:
        evaluate(tmp_path, data, [{"class_name": "ExampleCount", "threshold": {"lower": 1}}],
                 slices=[[], ["island"]])
    assert "culmen_length_mm" in str(info.value)  # lists the features that exist


def test_missing_eval_split_is_explained(tmp_path: Path, data: dict[str, Artifact]) -> None:
    with pytest.raises(DataError, match=r"no files for split 'test'.*\['train', 'eval'\]"):
        evaluate(tmp_path, data, [{"class_name": "ExampleCount", "threshold": {"lower": 1}}],
                 eval_split="test")


def shipped_evaluator_params(config: Path) -> dict[str, Any]:
    import yaml

    components = yaml.safe_load(config.read_text())["components"]
    params: dict[str, Any] = next(c for c in components if c["component"] == "Evaluator")["params"]
    return params


def test_pooch_bug_is_not_blessed_by_the_shipped_pupdates_evaluator(
    tmp_path: Path,
) -> None:
    """The Pooch Predictor bug: negative likes outside the US. Its model (pooch_bug: true)
    negates every non-US prediction whatever it learnt, so 2 training steps show it."""
    from components.evaluator.executor import run as evaluate_model

    built = pupdates_model(tmp_path, rows=1500, pooch_bug=True)
    ctx = executor_context(
        "Evaluator", tmp_path / "evaluator",
        params=shipped_evaluator_params(REPO / "configs" / "pupdates.yaml"),
        inputs={"examples": [built.examples], "model": [built.model], "schema": [built.schema]},
    )
    result = evaluate_model(ctx)

    assert ctx.outputs["blessing"].properties["blessed"] == 0
    slices = summary(ctx)["slices"]
    countries = sorted(s for s in slices if s.startswith("country="))
    assert "country=US" in countries and len(countries) > 3
    failed = {f["slice"]: f for f in blessing(ctx)["failures"] if f["metric"] == "mean_prediction"}
    outside_us = [c for c in countries if c != "country=US"]
    # The threshold holds overall too: there, the mean is pulled below 0 as well or not.
    overall_negative = slices["overall"]["mean_prediction"]["value"] < 0
    assert sorted(failed) == sorted(outside_us + ["overall"] * overall_negative)
    for country, failure in failed.items():
        assert failure["kind"] == "lower" and failure["bound"] == 0.0
        assert failure["value"] < 0
        assert failure["value"] == pytest.approx(slices[country]["mean_prediction"]["value"])
    assert slices["country=US"]["mean_prediction"]["value"] > 0
    assert "mean_prediction" in result.message and "< lower bound 0 (country=" in result.message
