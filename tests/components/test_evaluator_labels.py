"""String labels end to end at component level: Transform vocabulary -> Trainer -> Evaluator.

The shipped penguin_species user code runs on the shipped string-label CSV (every third row in
eval): tf.Transform numbers the species by frequency (Adelie, Gentoo, Chinstrap: not
alphabetical), the Trainer exports ``{scores, classes}`` and the Evaluator's metrics on the raw
string label are checked against numpy on the served model's own outputs. A second model,
trained without Chinstrap, has a different class set: the Evaluator must refuse to compare it
with the 3-class baseline, and evaluate it once told ``baseline: none``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from pipelines.component import Artifact, ExecutionContext, ExecutorResult
from pipelines.errors import DataError, UserCodeError
from pipelines.sdk import layout
from tests.helpers import REPO, executor_context
from tests.penguin_data import run_transform, serialized_examples

EXAMPLE = REPO / "examples" / "penguin_species"
CSV = EXAMPLE / "data" / "penguins_species.csv"
SCHEMA = REPO / "schemas" / "penguin_species" / "schema.pbtxt"
LABEL = "species"
FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
ACCURACY = "sparse_categorical_accuracy"


def species_table(without: str | None = None) -> pa.Table:
    types = {name: pa.float32() for name in FEATURES} | {LABEL: pa.binary(), "island": pa.binary()}
    table = pacsv.read_csv(CSV, convert_options=pacsv.ConvertOptions(column_types=types))
    if without:
        table = table.filter(pc.not_equal(table[LABEL], without.encode()))
    return table


def species_inputs(root: Path, without: str | None = None) -> tuple[Artifact, Artifact, pa.Table]:
    """Examples (every third row in eval), the curated Schema, and the raw eval rows."""
    import tensorflow as tf

    table = species_table(without)
    is_eval = np.arange(table.num_rows) % 3 == 2
    examples = Artifact(type="Examples", uri=str(root / "examples"))
    for split, mask in (("train", ~is_eval), ("eval", is_eval)):
        split_dir = layout.split_dir(examples, split)
        split_dir.mkdir(parents=True)
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(str(split_dir / "data-00000.tfrecord.gz"), options) as out:
            for record in serialized_examples(table.filter(pa.array(mask))):
                out.write(record)
    layout.set_split_names(examples, ["train", "eval"])
    schema = Artifact(type="Schema", uri=str(root / "schema"))
    schema.path.mkdir(parents=True)
    shutil.copy(SCHEMA, schema.path / layout.SCHEMA_FILE)
    return examples, schema, table.filter(pa.array(is_eval))


def transformed(root: Path, examples: Artifact, schema: Artifact) -> dict[str, list[Artifact]]:
    """The Trainer's inputs: the shipped preprocessing_fn run by the real Transform."""
    transform = run_transform(root / "transform", (examples, schema), EXAMPLE / "preprocessing.py")
    return {"examples": [transform.outputs["transformed_examples"]],
            "transform_graph": [transform.outputs["transform_graph"]], "schema": [schema]}


def train(
    root: Path, inputs: dict[str, list[Artifact]], model_id: int,
    module: Path = EXAMPLE / "model.py", **params: Any,
) -> tuple[ExecutionContext, ExecutorResult]:
    import tf_keras as keras

    from components.trainer.executor import run

    keras.utils.set_random_seed(7)
    ctx = executor_context(
        "Trainer", root / "trainer",
        params={"module_file": str(module), "label_key": LABEL, "train_steps": 40,
                "eval_steps": 2, "label_vocabulary": LABEL,
                "hyperparameters": {"hidden_units": [8, 8], "learning_rate": 0.05}, **params},
        inputs=inputs,
    )
    result = run(ctx)
    ctx.outputs["model"].id = model_id
    return ctx, result


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The 3-species model (id 1) and its inputs."""
    root = tmp_path_factory.mktemp("three")
    examples, schema, raw_eval = species_inputs(root)
    inputs = transformed(root, examples, schema)
    ctx, result = train(root, inputs, model_id=1)
    return {"examples": examples, "schema": schema, "raw_eval": raw_eval, "inputs": inputs,
            "result": result, "model": ctx.outputs["model"],
            "transform_graph": inputs["transform_graph"][0]}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """A model (id 2) trained on data without Chinstrap: its vocabulary has 2 classes."""
    root = tmp_path_factory.mktemp("two")
    examples, schema, _ = species_inputs(root, without="Chinstrap")
    ctx, _ = train(root, transformed(root, examples, schema), model_id=2)
    return ctx.outputs["model"]


def serve(model: Artifact, records: list[bytes], signature: str = "serving_default") -> Any:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model.path / layout.SERVING_MODEL_DIR))
    outputs = loaded.signatures[signature](examples=tf.constant(records))
    return {k: v.numpy() for k, v in outputs.items()}


def evaluate(
    tmp_path: Path, data: dict[str, Any], metrics: list[dict[str, Any]],
    model: Artifact | None = None, baseline_model: Artifact | None = None, **params: Any,
) -> tuple[ExecutionContext, ExecutorResult]:
    from components.evaluator.executor import run

    inputs = {"examples": [data["examples"]], "model": [model or data["model"]],
              "schema": [data["schema"]]}
    if baseline_model is not None:
        inputs["baseline_model"] = [baseline_model]
    ctx = executor_context("Evaluator", tmp_path, inputs=inputs,
                           params={"label_key": LABEL, "metrics": metrics, **params})
    return ctx, run(ctx)


def summary(ctx: ExecutionContext) -> dict[str, Any]:
    slices: dict[str, Any] = json.loads(
        (ctx.outputs["evaluation"].path / "summary.json").read_text()
    )["slices"]
    return slices


def exact_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by ranks (Mann-Whitney U), ties counted half."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positive) * len(negative)))


def test_serving_returns_scores_and_the_vocabulary_classes(three: dict[str, Any]) -> None:
    import tensorflow_transform as tft

    model, raw_eval = three["model"], three["raw_eval"]
    vocabulary = tft.TFTransformOutput(three["transform_graph"].uri).vocabulary_by_name(LABEL)
    classes = [v.decode() for v in vocabulary]
    # By frequency in train, not alphabetical: a label->index mapping by sorting would be wrong.
    assert classes == ["Adelie", "Gentoo", "Chinstrap"]
    assert json.loads(model.properties["label_classes"]) == classes

    # Requests carry no label: serving must not need it.
    out = serve(model, serialized_examples(raw_eval.drop([LABEL])))
    assert set(out) == {"scores", "classes"}
    assert out["scores"].shape == out["classes"].shape == (raw_eval.num_rows, 3)
    assert (out["classes"] == np.array([c.encode() for c in classes])).all()
    np.testing.assert_allclose(out["scores"].sum(axis=1), 1.0, atol=1e-5)
    predicted = out["classes"][np.arange(raw_eval.num_rows), out["scores"].argmax(axis=1)]
    accuracy = float((predicted == np.array(raw_eval[LABEL].to_pylist(), dtype="S")).mean())
    assert accuracy > 0.9, accuracy


def test_author_signature_is_exported_next_to_serving_default(three: dict[str, Any]) -> None:
    """model.py returns TrainedModel(model, {"predict_transformed": ...}); serving_default is
    still the Trainer's, which applies the transform graph itself: both agree on the scores."""
    import tensorflow as tf
    import tensorflow_transform as tft

    raw_eval = three["raw_eval"]
    records = serialized_examples(raw_eval)
    loaded = tf.saved_model.load(str(three["model"].path / layout.SERVING_MODEL_DIR))
    assert set(loaded.signatures) == {"serving_default", "predict_transformed"}
    served = loaded.signatures["serving_default"](examples=tf.constant(records))["scores"]

    tft_output = tft.TFTransformOutput(three["transform_graph"].uri)
    raw_spec = {k: v for k, v in tft_output.raw_feature_spec().items() if k != LABEL}
    transformed = tft_output.transform_features_layer()(
        tf.io.parse_example(tf.constant(records), raw_spec)
    )
    inputs = {k: transformed[k] for k in [*FEATURES, "island"]}
    own = loaded.signatures["predict_transformed"](**inputs)["probabilities"]
    np.testing.assert_allclose(served.numpy(), own.numpy(), atol=1e-6)
    # The raw measurements are not what the model takes: skipping the transform changes it.
    raw = {k: tf.constant(raw_eval[k].to_numpy()[:, None]) for k in FEATURES}
    untransformed = loaded.signatures["predict_transformed"](**raw, island=inputs["island"])
    assert np.abs(untransformed["probabilities"].numpy() - served.numpy()).max() > 0.1


def test_metrics_on_the_raw_string_label_match_numpy(
    tmp_path: Path, three: dict[str, Any]
) -> None:
    raw_eval = three["raw_eval"]
    ctx, result = evaluate(tmp_path, three, [
        {"class_name": "SparseCategoricalAccuracy", "threshold": {"lower": 0.8}},
        {"class_name": "AUC"},
        {"class_name": "ExampleCount"},
    ], slices=[[], ["island"]])
    assert ctx.outputs["blessing"].properties["blessed"] == 1, result.message

    out = serve(three["model"], serialized_examples(raw_eval))
    labels = np.array(raw_eval[LABEL].to_pylist(), dtype="S")
    hits = out["classes"][np.arange(len(labels)), out["scores"].argmax(axis=1)] == labels
    one_hot = (out["classes"] == labels[:, None]).astype(int)
    assert one_hot.sum() == len(labels)  # every eval label is a known class
    slices = summary(ctx)
    overall = slices["overall"]
    assert overall["example_count"]["value"] == len(labels) == 114
    assert overall[ACCURACY]["value"] == pytest.approx(hits.mean(), abs=1e-6)
    # Micro-averaged one-vs-rest AUC over the flattened [n, classes] scores; TFMA's AUC is
    # bucketed (10,000 thresholds), so close but not exact.
    auc = exact_auc(one_hot.ravel(), out["scores"].ravel())
    assert overall["auc"]["value"] == pytest.approx(auc, abs=2e-3)
    islands = np.array(raw_eval["island"].to_pylist())
    for island in (b"Biscoe", b"Dream", b"Torgersen"):
        row = slices[f"island={island.decode()}"]
        assert row["example_count"]["value"] == (islands == island).sum()
        assert row[ACCURACY]["value"] == pytest.approx(hits[islands == island].mean(), abs=1e-6)


def test_string_label_without_named_classes_is_refused(
    tmp_path: Path, three: dict[str, Any]
) -> None:
    # The same user code's model, exported without label_vocabulary: plain scores, no
    # classes, so a string label cannot be matched to a score.
    ctx, _ = train(tmp_path / "plain", three["inputs"], model_id=3,
                   module=_write(tmp_path, _PLAIN_MODEL), label_vocabulary=None)
    assert "label_classes" not in ctx.outputs["model"].properties
    with pytest.raises(DataError, match=r"'species' holds strings.*model 3.*label_vocabulary"):
        evaluate(tmp_path / "eval", three, [
            {"class_name": "SparseCategoricalAccuracy", "threshold": {"lower": 0.5}}
        ], model=ctx.outputs["model"])


@pytest.mark.parametrize("candidate", ["two", "three"])
def test_changed_class_set_is_refused_with_what_to_do(
    tmp_path: Path, three: dict[str, Any], two: Artifact, candidate: str
) -> None:
    model, baseline = (two, three["model"]) if candidate == "two" else (three["model"], two)
    with pytest.raises(DataError) as info:
        evaluate(tmp_path, three, _with_change(), model=model, baseline_model=baseline)
    message = str(info.value)
    assert "class set changed" in message and "`baseline: none`" in message
    assert "2 classes ['Adelie', 'Gentoo']" in message
    assert "3 classes ['Adelie', 'Chinstrap', 'Gentoo']" in message
    assert not (tmp_path / "out" / "blessing" / "BLESSED").exists()


def test_baseline_none_evaluates_a_new_class_set_on_value_thresholds(
    tmp_path: Path, three: dict[str, Any], two: Artifact
) -> None:
    ctx, result = evaluate(tmp_path, three, [*_with_change(), {"class_name": "ExampleCount"}],
                           model=two, baseline_model=three["model"], baseline="none")
    out = serve(two, serialized_examples(three["raw_eval"]))
    labels = np.array(three["raw_eval"][LABEL].to_pylist(), dtype="S")
    hits = out["classes"][np.arange(len(labels)), out["scores"].argmax(axis=1)] == labels
    assert out["scores"].shape == (114, 2)
    overall = summary(ctx)["overall"]
    # Chinstrap (23 of the 114) is a class this model cannot name: those rows count as misses.
    assert (labels == b"Chinstrap").sum() == 23 and not hits[labels == b"Chinstrap"].any()
    assert overall[ACCURACY]["value"] == pytest.approx(hits.mean(), abs=1e-6)
    assert overall[ACCURACY]["value"] <= 91 / 114 + 1e-6
    assert "baseline" not in overall[ACCURACY]  # nothing was compared
    assert ctx.outputs["blessing"].properties == {
        "blessed": 1, "model_id": 2, "baseline_model_id": -1
    }
    assert "change thresholds not applied" in result.message


def test_unknown_label_vocabulary_names_the_vocabularies(
    tmp_path: Path, three: dict[str, Any]
) -> None:
    with pytest.raises(DataError, match=r"no vocabulary 'label'.*'island'.*'species'"):
        train(tmp_path, three["inputs"], model_id=4, label_vocabulary="label")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("4 outputs", r"scores of shape \[None, 4\].*3 classes"),
        ("serving_default", r"'serving_default' is the Trainer's own signature"),
        ("no input_signature", r"without an input_signature"),
    ],
)
def test_export_contract_violations_are_explained(
    tmp_path: Path, three: dict[str, Any], body: str, expected: str
) -> None:
    module = _write(tmp_path, _BROKEN[body])
    with pytest.raises(UserCodeError, match=expected):
        train(tmp_path, three["inputs"], model_id=5, module=module, train_steps=1)


def _with_change() -> list[dict[str, Any]]:
    return [{"class_name": "SparseCategoricalAccuracy",
             "threshold": {"lower": 0.5, "change": {"direction": "higher_is_better"}}}]


def _write(tmp_path: Path, body: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    module = tmp_path / "author_model.py"
    module.write_text(body)
    return module


# A minimal model over the transformed features; N_OUTPUTS and RETURN vary per test.
_TEMPLATE = '''
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from pipelines.sdk import TrainedModel

FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]


def run_fn(args):
    spec = tft.TFTransformOutput(args.transform_output).transformed_feature_spec()
    data = tf.data.experimental.make_batched_features_dataset(
        args.train_files, 20, spec, label_key=args.label_key,
        reader=lambda p: tf.data.TFRecordDataset(p, compression_type="GZIP"))
    inputs = {{n: keras.Input(shape=(1,), name=n) for n in FEATURES}}
    x = keras.layers.Concatenate()(list(inputs.values()))
    model = keras.Model(inputs, keras.layers.Dense({n_outputs}, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data, steps_per_epoch=args.train_steps, verbose=0)

    @tf.function{decorator}
    def scores(features):
        return {{"scores": model(features)}}

    return {returned}
'''
_SPECS = "[{n: tf.TensorSpec([None, 1], tf.float32, name=n) for n in FEATURES}]"
_PLAIN_MODEL = _TEMPLATE.format(n_outputs=3, decorator="", returned="model")
_BROKEN = {
    "4 outputs": _TEMPLATE.format(n_outputs=4, decorator="", returned="model"),
    "serving_default": _TEMPLATE.format(
        n_outputs=3, decorator=f"(input_signature={_SPECS})",
        returned='TrainedModel(model, {"serving_default": scores})',
    ),
    "no input_signature": _TEMPLATE.format(
        n_outputs=3, decorator="", returned='TrainedModel(model, {"scores": scores})'
    ),
}


def test_same_class_set_is_compared_with_the_baseline(
    tmp_path: Path, three: dict[str, Any]
) -> None:
    """Two models in one TFMA run: each string label is looked up in each model's classes."""
    ctx, result = evaluate(tmp_path, three, _with_change(), baseline_model=three["model"])
    out = serve(three["model"], serialized_examples(three["raw_eval"]))
    labels = np.array(three["raw_eval"][LABEL].to_pylist(), dtype="S")
    hits = out["classes"][np.arange(len(labels)), out["scores"].argmax(axis=1)] == labels
    accuracy = summary(ctx)["overall"][ACCURACY]
    assert accuracy["value"] == pytest.approx(hits.mean(), abs=1e-6)
    assert accuracy["baseline"] == pytest.approx(hits.mean(), abs=1e-6)
    assert accuracy["change"] == pytest.approx(0.0, abs=1e-9)
    assert result.message.startswith("blessed vs baseline model 1")


def test_numeric_label_with_a_reordered_vocabulary_is_refused() -> None:
    from components.evaluator.labels import check_labels

    model = Artifact("Model", "/unused", id=7, properties={"label_classes": '["2", "0", "1"]'})
    with pytest.raises(DataError, match=r"numeric, but model 7 scores the classes \['2', '0'"):
        check_labels(LABEL, False, model, None)
    identity = Artifact("Model", "/unused", id=8, properties={"label_classes": '["0", "1"]'})
    check_labels(LABEL, False, identity, None)  # index i is class "i": nothing to refuse
