"""BulkInferrer executor on a penguin model really trained by the Trainer (module-scoped), over
the labelled splits and over an unlabelled data set with an id column.

Predictions are checked against the model's own serving signature called directly on the same
examples, so a reordering, a lost batch or a mixed-up column fails the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from components.bulk_inferrer import BulkInferrerParams
from components.evaluator.markers import BLESSED_FILE, BLESSING_FILE, NOT_BLESSED_FILE
from components.infra_validator.markers import write_infra_blessing
from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError
from pipelines.graph import build_pipeline
from pipelines.loading import load_config
from pipelines.sdk import layout
from tests.e2e.configs import component, config_variant
from tests.helpers import REPO, executor_context
from tests.penguin_data import (
    FEATURES,
    LABEL,
    PENGUIN_PREPROCESSING,
    penguin_inputs,
    penguin_table,
    run_transform,
    serialized_examples,
)

PENGUIN_MODEL = REPO / "examples" / "penguin" / "model.py"
UNLABELLED_ROWS = 40


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    import tf_keras as keras

    from components.trainer.executor import run as train

    examples, schema = penguin_inputs(tmp_path_factory.mktemp("penguin"))
    examples.id = 10
    transform = run_transform(
        tmp_path_factory.mktemp("transform"), (examples, schema), PENGUIN_PREPROCESSING
    )
    keras.utils.set_random_seed(7)
    ctx = executor_context(
        "Trainer", tmp_path_factory.mktemp("trainer"),
        params={"module_file": str(PENGUIN_MODEL), "label_key": LABEL, "train_steps": 30,
                "eval_steps": 1, "hyperparameters": {"hidden_units": [8, 8],
                                                     "learning_rate": 0.05}},
        inputs={"examples": [transform.outputs["transformed_examples"]],
                "transform_graph": [transform.outputs["transform_graph"]],
                "schema": [schema]},
    )
    train(ctx)
    model = ctx.outputs["model"]
    model.id = 1
    return {"examples": examples, "model": model,
            "unlabelled": unlabelled_examples(tmp_path_factory.mktemp("unlabelled"))}


def unlabelled_examples(root: Path) -> Artifact:
    """Penguins without a species but with an id, in two files, in split 'unlabelled'."""
    import tensorflow as tf

    table = penguin_table().select(FEATURES).slice(0, UNLABELLED_ROWS)
    ids = pa.array([1000 + i for i in range(UNLABELLED_ROWS)], pa.int64())
    table = table.append_column("penguin_id", ids)
    examples = Artifact("Examples", str(root / "examples"), id=11)
    split_dir = layout.split_dir(examples, "unlabelled")
    split_dir.mkdir(parents=True)
    records = serialized_examples(table)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for index, part in enumerate((records[:25], records[25:])):
        with tf.io.TFRecordWriter(str(split_dir / f"data-{index:05d}.tfrecord.gz"),
                                  options) as out:
            for record in part:
                out.write(record)
    layout.set_split_names(examples, ["unlabelled"])
    return examples


def serve(model: Artifact, records: list[bytes]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model.path / layout.SERVING_MODEL_DIR))
    outputs = loaded.signatures["serving_default"](examples=tf.constant(records, tf.string))
    return {name: tensor.numpy() for name, tensor in outputs.items()}


def split_records(examples: Artifact, split: str) -> list[bytes]:
    from components.tfrecord import read_records

    records: list[bytes] = []
    for path in layout.examples_files(examples, split):
        records.extend(read_records(Path(path))[0])
    return records


def blessing(tmp_path: Path, model_id: int, blessed: bool = True) -> Artifact:
    uri = tmp_path / f"blessing-{model_id}-{int(blessed)}"
    uri.mkdir(parents=True)
    (uri / (BLESSED_FILE if blessed else NOT_BLESSED_FILE)).touch()
    message = "sparse_categorical_accuracy 0.41 < lower bound 0.6 (overall)"
    (uri / BLESSING_FILE).write_text(json.dumps(
        {"blessed": blessed, "failures": [] if blessed else [{"message": message}]}))
    return Artifact("ModelBlessing", str(uri), id=100 + model_id,
                    properties={"blessed": int(blessed), "model_id": model_id})


def infer(
    tmp_path: Path, model: Artifact, examples: Artifact, *, blessing: Artifact | None = None,
    infra: Artifact | None = None, **params: Any,
) -> tuple[ExecutionContext, ExecutorResult]:
    from components.bulk_inferrer.executor import run

    inputs = {"model": [model], "examples": [examples]}
    if blessing is not None:
        inputs["blessing"] = [blessing]
    if infra is not None:
        inputs["infra_blessing"] = [infra]
    ctx = executor_context("BulkInferrer", tmp_path, params=params, inputs=inputs)
    return ctx, run(ctx)


def output_name(model: Artifact) -> str:
    [name] = serve(model, []).keys()  # the penguin model has one output: 3 probabilities
    return name


def test_blessed_model_predicts_every_eval_example_as_parquet_and_csv(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    model, examples = data["model"], data["examples"]
    ctx, result = infer(tmp_path, model, examples, blessing=blessing(tmp_path, 1),
                        output_format="csv", key_columns=["body_mass_g", LABEL], batch_size=50)
    assert result.outcome == "complete", result.message
    out = ctx.outputs["inference_result"]
    table = pq.read_table(layout.split_dir(out, "eval") / "predictions.parquet")
    name = output_name(model)
    columns = [f"{name}_{i}" for i in range(3)]
    assert table.column_names == ["body_mass_g", LABEL, *columns]
    assert table.num_rows == 114

    records = split_records(examples, "eval")
    expected = serve(model, records)[name]
    got = np.stack([table.column(c).to_numpy() for c in columns], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)  # same rows, same order
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-4)
    assert table.schema.field(LABEL).type == pa.int64()  # one value per example: a scalar
    penguins = penguin_table()
    eval_table = penguins.filter(pa.array(np.arange(penguins.num_rows) % 3 == 2))
    assert table.column(LABEL).to_pylist() == eval_table.column(LABEL).to_pylist()

    csv = pacsv.read_csv(layout.split_dir(out, "eval") / "predictions.csv")
    assert csv.column_names == table.column_names
    np.testing.assert_allclose(csv.column(columns[0]).to_numpy(), got[:, 0], rtol=1e-5)

    assert out.properties["rows"] == 114
    assert json.loads(out.properties["split_rows"]) == {"eval": 114}
    assert json.loads(out.properties["split_names"]) == ["eval"]
    assert (out.properties["model_id"], out.properties["examples_id"]) == (1, 10)
    assert result.properties["rows"] == 114
    assert "wrote 114 predictions of model 1 (114 in 'eval') as Parquet and CSV" in (
        result.message)


def test_every_split_with_parquet_only(tmp_path: Path, data: dict[str, Artifact]) -> None:
    ctx, result = infer(tmp_path, data["model"], data["examples"],
                        blessing=blessing(tmp_path, 1), split="*")
    out = ctx.outputs["inference_result"]
    assert json.loads(out.properties["split_rows"]) == {"train": 228, "eval": 114}
    for split, rows in (("train", 228), ("eval", 114)):
        directory = layout.split_dir(out, split)
        assert sorted(p.name for p in directory.iterdir()) == ["predictions.parquet"]
        assert pq.read_metadata(directory / "predictions.parquet").num_rows == rows
    assert result.properties["rows"] == 342


def test_unlabelled_data_set_keeps_ids_across_files_and_batches(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    model, unlabelled = data["model"], data["unlabelled"]
    ctx, result = infer(tmp_path, model, unlabelled, blessing=blessing(tmp_path, 1),
                        split="unlabelled", key_columns=["penguin_id"], batch_size=7)
    assert result.outcome == "complete", result.message
    out = ctx.outputs["inference_result"]
    table = pq.read_table(layout.split_dir(out, "unlabelled") / "predictions.parquet")
    # 25 + 15 examples in two files, batches of 7: every id once, in file order.
    assert table.column("penguin_id").to_pylist() == list(range(1000, 1000 + UNLABELLED_ROWS))
    name = output_name(model)
    expected = serve(model, split_records(unlabelled, "unlabelled"))[name]
    np.testing.assert_allclose(table.column(f"{name}_2").to_numpy(), expected[:, 2], rtol=1e-5)
    assert out.properties["rows"] == UNLABELLED_ROWS


def test_unblessed_model_is_skipped_with_the_evaluators_reason(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    ctx, result = infer(tmp_path, data["model"], data["examples"],
                        blessing=blessing(tmp_path, 1, blessed=False))
    assert result.outcome == "skipped"
    assert result.message == (
        "not blessed: sparse_categorical_accuracy 0.41 < lower bound 0.6 (overall)")
    assert not any(ctx.outputs["inference_result"].path.iterdir())


def test_no_blessing_is_skipped_unless_not_required(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    _, result = infer(tmp_path / "strict", data["model"], data["examples"])
    assert result.outcome == "skipped"
    assert "no ModelBlessing is wired" in result.message
    assert "require_blessing: false" in result.message

    ctx, result = infer(tmp_path / "lenient", data["model"], data["examples"],
                        require_blessing=False)
    assert result.outcome == "complete"
    assert ctx.outputs["inference_result"].properties["rows"] == 114


def test_model_the_canary_refused_is_skipped(tmp_path: Path, data: dict[str, Artifact]) -> None:
    infra_dir = tmp_path / "infra"
    infra_dir.mkdir()
    reason = "timed out after timeout_seconds 5 while serving request 3; it was killed"
    write_infra_blessing(infra_dir, False, {"model_id": 1, "reason": reason})
    infra = Artifact("InfraBlessing", str(infra_dir), id=5,
                     properties={"blessed": 0, "model_id": 1})
    _, result = infer(tmp_path, data["model"], data["examples"], blessing=blessing(tmp_path, 1),
                      infra=infra)
    assert result.outcome == "skipped"
    assert result.message == f"not infra blessed: {reason}"


def test_key_column_absent_from_the_examples_is_a_data_error(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    with pytest.raises(DataError, match="key column\\(s\\) penguin_id appear in no example"):
        infer(tmp_path, data["model"], data["examples"], require_blessing=False,
              key_columns=["penguin_id"])


def test_missing_split_names_the_ones_there_are(
    tmp_path: Path, data: dict[str, Artifact]
) -> None:
    with pytest.raises(DataError, match="no split 'eval' \\(it has unlabelled\\)"):
        infer(tmp_path, data["model"], data["unlabelled"], require_blessing=False)


@pytest.mark.parametrize("params", [{"split": "../x"}, {"key_columns": ["id", "id"]},
                                    {"output_format": "json"}, {"batch_size": 0}])
def test_bad_params_are_config_errors(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BulkInferrerParams.model_validate(params)


def test_second_example_gen_wires_the_unlabelled_data_set(tmp_path: Path) -> None:
    """A config with a second, named ExampleGen and explicit wiring: only the BulkInferrer
    reads it; the Evaluator and the InfraValidator keep the labelled data."""
    csv = tmp_path / "unlabelled.csv"
    csv.write_text("penguin_id," + ",".join(FEATURES) + "\n1,0.5,0.5,0.5,0.5\n")

    def add_unlabelled(config: dict[str, Any]) -> None:
        component(config, "BulkInferrer")["params"].update(
            split="unlabelled", key_columns=["penguin_id"])
        component(config, "BulkInferrer")["inputs"] = {"examples": "unlabelled_gen.examples"}
        index = config["components"].index(component(config, "BulkInferrer"))
        config["components"].insert(index, {
            "component": "ExampleGen", "name": "unlabelled_gen",
            "params": {"input": str(csv), "splits": {"unlabelled": 1}},
        })

    pipeline = build_pipeline(load_config(config_variant(tmp_path, add_unlabelled)))
    wires = {(node.id, c.name): f"{c.producer}.{c.output}"
             for node in pipeline.nodes.values() for c in node.channels}
    assert wires["bulk_inferrer", "examples"] == "unlabelled_gen.examples"
    assert wires["bulk_inferrer", "model"] == "trainer.model"
    assert wires["bulk_inferrer", "blessing"] == "evaluator.blessing"
    assert wires["bulk_inferrer", "infra_blessing"] == "infra_validator.infra_blessing"
    assert wires["evaluator", "examples"] == "example_gen.examples"
    assert wires["infra_validator", "examples"] == "example_gen.examples"
    assert wires["pusher", "infra_blessing"] == "infra_validator.infra_blessing"
    assert pipeline.order.index("bulk_inferrer") > pipeline.order.index("pusher")
