"""The Evaluator's reference set, on the real penguin models of ``test_evaluator``: a candidate
judged on corrupted labels is judged on the reference too, and the baseline's disagreement
between the two is a finding with its numbers.

"good" (model 1) is the accurate model and "bad" (model 2) near chance. The corrupted eval split
labels every penguin species 0, so the good baseline looks bad on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from components.evaluator.markers import BLESSED_FILE, NOT_BLESSED_FILE
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.sdk import layout
from tests.components.test_evaluator import ACCURACY, blessing, data, summary
from tests.helpers import executor_context
from tests.penguin_data import LABEL, PENGUIN_CSV

__all__ = ["data"]  # the module-scoped fixture: two models trained once for this module
REFERENCE_ID = 11
METRICS = [
    {"class_name": "SparseCategoricalAccuracy",
     "threshold": {"lower": 0.0, "change": {"direction": "higher_is_better", "absolute": 0.0}}},
    {"class_name": "ExampleCount"},
]


def relabelled_copy(examples: Artifact, root: Path, label: int, artifact_id: int) -> Artifact:
    """``examples`` copied, its eval split's labels all set to ``label`` (a corrupted span)."""
    import tensorflow as tf

    shutil.copytree(examples.path, root)
    copy = Artifact("Examples", str(root), id=artifact_id, properties=dict(examples.properties))
    for path in layout.examples_files(copy, "eval"):
        records = list(tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator())
        with tf.io.TFRecordWriter(path, options="GZIP") as out:
            for record in records:
                example = tf.train.Example.FromString(record)
                example.features.feature[LABEL].int64_list.value[:] = [label]
                out.write(example.SerializeToString())
    return copy


def clean_copy(examples: Artifact, root: Path, artifact_id: int) -> Artifact:
    shutil.copytree(examples.path, root)
    return Artifact("Examples", str(root), id=artifact_id, properties=dict(examples.properties))


def evaluate(
    tmp_path: Path, data: dict[str, Artifact], examples: Artifact, model: str, baseline: str,
    reference_examples: Artifact | None, **params: Any,
) -> tuple[ExecutionContext, ExecutorResult]:
    from components.evaluator.executor import run

    inputs = {"examples": [examples], "model": [data[model]], "schema": [data["schema"]],
              "baseline_model": [data[baseline]]}
    if reference_examples is not None:
        inputs["reference_examples"] = [reference_examples]
    ctx = executor_context("Evaluator", tmp_path / "evaluator", inputs=inputs,
                           params={"label_key": LABEL, "metrics": METRICS, **params})
    return ctx, run(ctx)


def reference_summary(ctx: ExecutionContext) -> dict[str, Any]:
    import json

    path = ctx.outputs["evaluation"].path / "reference" / "summary.json"
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def test_corrupted_labels_lose_on_the_reference_and_disagree_with_it(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    corrupted = relabelled_copy(data["examples"], tmp_path / "span-2", 0, artifact_id=12)
    reference = clean_copy(data["examples"], tmp_path / "span-1", REFERENCE_ID)
    ctx, result = evaluate(tmp_path, data, corrupted, "bad", "good", reference)

    out = ctx.outputs["blessing"]
    assert (out.path / NOT_BLESSED_FILE).is_file() and not (out.path / BLESSED_FILE).exists()
    assert out.properties["blessed"] == 0 and out.properties["reference_blessed"] == 0
    assert out.properties["labels_agree"] == 0
    assert out.properties["reference_examples_id"] == REFERENCE_ID

    on_eval = summary(ctx)["slices"]["overall"]
    on_ref = reference_summary(ctx)["slices"]["overall"]
    # Every label 0 on the eval split: 50 of its 114 penguins really are species 0.
    assert on_eval["example_count"]["value"] == on_ref["example_count"]["value"] == 114
    good_on_eval, good_on_ref = on_eval[ACCURACY]["baseline"], on_ref[ACCURACY]["baseline"]
    assert good_on_eval <= 50 / 114 + 1e-6 < good_on_ref
    assert on_ref[ACCURACY]["value"] < good_on_ref  # the bad candidate loses on the reference

    record = blessing(ctx)
    first, *rest = record["failures"]
    assert first["kind"] == "disagreement" and first["metric"] == ACCURACY
    assert first["value"] == pytest.approx(good_on_eval)
    assert first["reference_value"] == pytest.approx(good_on_ref)
    assert first["change"] == pytest.approx(good_on_eval - good_on_ref)
    assert first["bound"] == 0.05
    change = [f for f in rest if f["kind"] == "change" and f.get("reference")]
    assert len(change) == 1
    assert change[0]["baseline"] == pytest.approx(good_on_ref)
    assert change[0]["value"] == pytest.approx(on_ref[ACCURACY]["value"])

    judgements = record["judgements"]
    assert judgements["reference"]["examples_id"] == REFERENCE_ID
    assert judgements["reference"]["blessed"] is False
    assert judgements["agreement"]["agree"] is False
    assert judgements["agreement"]["metrics"][ACCURACY]["baseline_on_reference"] == (
        pytest.approx(good_on_ref))
    assert ctx.outputs["evaluation"].properties[f"reference_baseline_{ACCURACY}"] == (
        pytest.approx(good_on_ref))

    name = f"'eval' split of Examples {REFERENCE_ID}, which baseline model 1 was blessed on"
    assert result.message.startswith(
        f"not blessed: the new span's labels disagree with the reference ({name}): the "
        f"baseline scores {ACCURACY} {good_on_eval:.4g} on the candidate's eval split but "
        f"{good_on_ref:.4g} on the reference")
    assert f"on the reference ({name}): {ACCURACY} {on_ref[ACCURACY]['value']:.4g} vs baseline " \
           f"{good_on_ref:.4g}: change" in result.message


def test_a_better_candidate_is_blessed_on_both_and_the_message_says_so(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    reference = clean_copy(data["examples"], tmp_path / "span-1", REFERENCE_ID)
    ctx, result = evaluate(tmp_path, data, data["examples"], "good", "bad", reference)
    props = ctx.outputs["blessing"].properties
    assert (props["blessed"], props["eval_blessed"], props["reference_blessed"],
            props["labels_agree"]) == (1, 1, 1, 1)
    compared = blessing(ctx)["judgements"]["agreement"]["metrics"][ACCURACY]
    assert compared["difference"] == pytest.approx(0.0)  # the same penguins, the same labels
    on_ref = reference_summary(ctx)["slices"]["overall"][ACCURACY]
    assert result.message.startswith("blessed vs baseline model 2: ")
    assert (f"; on the reference ('eval' split of Examples {REFERENCE_ID}, which baseline "
            f"model 2 was blessed on): {ACCURACY} {on_ref['value']:.4g} vs baseline "
            f"{on_ref['baseline']:.4g}, example_count 114 vs baseline 114; its labels agree "
            "with the eval split's within 0.05") in result.message


def test_every_row_of_the_reference_is_scored_or_nothing_is_blessed(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    import json

    from pipelines.errors import DataError

    reference = clean_copy(data["examples"], tmp_path / "span-1", REFERENCE_ID)
    reference.properties["split_rows"] = json.dumps({"train": 228, "eval": 120})
    with pytest.raises(DataError, match=(
        rf"TFMA scored 114 rows of the reference \('eval' split of Examples {REFERENCE_ID}, "
        r"which baseline model 2 was blessed on\) with the candidate model, but those "
        r"Examples hold 120")):
        evaluate(tmp_path, data, data["examples"], "good", "bad", reference)


def test_the_candidates_own_split_is_judged_once(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    examples = clean_copy(data["examples"], tmp_path / "span-1", REFERENCE_ID)
    ctx, result = evaluate(tmp_path, data, examples, "good", "bad", examples)
    assert not (ctx.outputs["evaluation"].path / "reference").exists()
    assert blessing(ctx)["judgements"]["reference"]["same_as_eval"] is True
    assert "is the candidate's own eval split" in result.message
    assert "REFERENCE NOT CHECKED" not in result.message


def test_without_reference_examples_the_message_warns(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    _, result = evaluate(tmp_path, data, data["examples"], "good", "bad", None)
    assert result.outcome == "complete" and result.message.startswith("blessed vs baseline")
    assert "REFERENCE NOT CHECKED: no Examples are recorded for the blessing of baseline " \
           "model 2" in result.message


def test_a_golden_csv_is_the_reference(tmp_path: Path, data: dict[str, Artifact]) -> None:
    corrupted = relabelled_copy(data["examples"], tmp_path / "span-2", 0, artifact_id=12)
    ctx, result = evaluate(
        tmp_path, data, corrupted, "bad", "good", None,
        reference={"kind": "path", "path": str(PENGUIN_CSV), "format": "csv"},
    )
    on_ref = reference_summary(ctx)["slices"]["overall"]
    assert on_ref["example_count"]["value"] == 342  # every penguin of the CSV
    assert on_ref[ACCURACY]["baseline"] > on_ref[ACCURACY]["value"]
    record = blessing(ctx)
    assert record["blessed"] is False
    assert record["judgements"]["reference"]["data"] == f"golden set {PENGUIN_CSV}, 342 rows"
    assert "reference_examples_id" not in ctx.outputs["blessing"].properties
    assert f"disagree with the reference (golden set {PENGUIN_CSV}, 342 rows)" in result.message


def test_reference_params_are_checked() -> None:
    from pydantic import ValidationError

    from components.evaluator import Reference

    with pytest.raises(ValidationError, match="`kind: path` needs `path`"):
        Reference(kind="path")
    with pytest.raises(ValidationError, match="read only with `kind: path`"):
        Reference(path="golden.csv")
    assert Reference().kind == "baseline_eval" and Reference().tolerance == 0.05


def test_validate_warns_of_a_golden_set_that_is_not_there(tmp_path: Path) -> None:
    from pipelines.loading import check_config
    from tests.e2e.configs import component, config_variant

    def golden(config: dict[str, Any]) -> None:
        component(config, "Evaluator")["params"]["reference"] = {
            "kind": "path", "path": "golden/penguins.csv"}

    config = config_variant(tmp_path, golden)
    [warning] = [str(w) for w in check_config(config)[1] if "reference" in str(w)]
    assert "reference.path" in warning and "'golden/penguins.csv' matches no files" in warning
    assert str(tmp_path / "golden" / "penguins.csv") in warning
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "penguins.csv").write_text(PENGUIN_CSV.read_text())
    assert not [w for w in check_config(config)[1] if "reference" in str(w)]
