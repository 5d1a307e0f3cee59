"""The penguin pipeline end to end on the real libraries (issues: foundation and model half).

One module-scoped LOCKGATE_HOME: the first test runs the whole pipeline; later tests read that
run's lineage and then try bad inputs against it, checking nothing earlier is disturbed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.component import Artifact
from pipelines.fingerprint import fingerprint_dir
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO, component, config_variant

pytestmark = pytest.mark.e2e
PENGUIN = REPO / "configs" / "penguin.yaml"
CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
NODES = ["example_gen", "statistics_gen", "schema_gen", "example_validator",
         "transform", "trainer", "evaluator", "infra_validator", "pusher", "bulk_inferrer"]


@pytest.fixture(scope="module")
def lockgate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("penguin-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def store(lockgate_home: Path) -> LineageStore:
    return LineageStore(load_config(PENGUIN).metadata)


@pytest.fixture(scope="module")
def first_run(lockgate_home: Path) -> str:
    assert main(["run", str(PENGUIN), "--run-id", "first"]) == 0
    return "first"


def serving_versions(home: Path) -> list[str]:
    base = home / "serving" / "penguin"
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def test_one_run_completes_every_node(first_run: str, store: LineageStore,
                                      lockgate_home: Path) -> None:
    executions = store.run_executions("penguin", first_run)
    assert [(e.node_id, e.state) for e in executions] == [(n, "COMPLETE") for n in NODES]
    for execution in executions:
        if execution.node_id != "example_gen":
            assert store.inputs_of(execution.id), f"{execution.node_id} has no INPUT events"
    # Every artifact in the store was produced by some execution (has an OUTPUT event).
    artifacts = store.mlmd.get_artifacts()
    events = store.mlmd.get_events_by_artifact_ids([a.id for a in artifacts])
    produced = {e.artifact_id for e in events if e.type == store.pb.Event.OUTPUT}
    assert {a.id for a in artifacts} == produced
    assert serving_versions(lockgate_home) == ["1"]


def test_pushed_model_serves_raw_examples(first_run: str, lockgate_home: Path) -> None:
    import tensorflow as tf

    model = tf.saved_model.load(str(lockgate_home / "serving" / "penguin" / "1"))
    serve = model.signatures["serving_default"]
    with CSV.open() as handle:
        rows = list(csv.DictReader(handle))[:5]
    serialized = []
    for row in rows:
        features = {
            k: tf.train.Feature(float_list=tf.train.FloatList(value=[float(v)]))
            for k, v in row.items() if k != "species"
        }
        example = tf.train.Example(features=tf.train.Features(feature=features))
        serialized.append(example.SerializeToString())
    [output] = serve(examples=tf.constant(serialized)).values()
    probabilities = output.numpy()
    assert probabilities.shape == (5, 3)
    assert probabilities.sum(axis=1) == pytest.approx([1.0] * 5, abs=1e-4)


def producer_inputs(store: LineageStore, artifact: Artifact) -> dict[str, list[Artifact]]:
    """The inputs of the execution that produced ``artifact``, by port."""
    events = store.mlmd.get_events_by_artifact_ids([artifact.id or 0])
    [producer] = [e.execution_id for e in events if e.type == store.pb.Event.OUTPUT]
    return store.inputs_of(producer)


def test_lineage_walks_back_from_pushed_model_to_input_files(first_run: str,
                                                              store: LineageStore) -> None:
    pusher = next(e for e in store.run_executions("penguin", first_run) if e.node_id == "pusher")
    [pushed] = store.outputs_of(pusher.id)["pushed_model"]
    [model] = producer_inputs(store, pushed)["model"]
    trainer_inputs = producer_inputs(store, model)
    assert {"examples", "transform_graph", "schema"} <= set(trainer_inputs)
    [transform_graph] = trainer_inputs["transform_graph"]
    [transformed] = trainer_inputs["examples"]
    assert producer_inputs(store, transform_graph) == producer_inputs(store, transformed)
    [raw] = producer_inputs(store, transformed)["examples"]
    assert raw.properties["producer_node"] == "example_gen"
    assert len(raw.properties["input_fingerprint"]) >= 16
    assert json.loads(raw.properties["split_names"]) == ["train", "eval"]
    [schema] = trainer_inputs["schema"]
    assert schema.type == "Schema" and Path(schema.uri, "schema.pbtxt").exists()


def test_impossible_threshold_does_not_push(first_run: str, store: LineageStore,
                                            lockgate_home: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # The eval split has 120 penguins, so no model meets this; an accuracy bound is not
    # enough, since a good model may score every eval penguin right.
    def impossible(config: dict) -> None:  # type: ignore[type-arg]
        metrics = component(config, "Evaluator")["params"]["metrics"]
        [count] = [m for m in metrics if m["class_name"] == "ExampleCount"]
        count["threshold"] = {"lower": 1_000_000}

    served = fingerprint_dir(lockgate_home / "serving")
    capsys.readouterr()
    assert main(["run", str(config_variant(tmp_path, impossible)), "--run-id", "strict"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "not blessed" in out.lower()
    assert fingerprint_dir(lockgate_home / "serving") == served
    executions = {e.node_id: e for e in store.run_executions("penguin", "strict")}
    assert executions["pusher"].outcome == "skipped"
    [blessing] = store.outputs_of(executions["evaluator"].id)["blessing"]
    assert blessing.properties["blessed"] == 0
    why = json.loads(Path(blessing.uri, "blessing.json").read_text())
    assert "1000000" in json.dumps(why) and "example_count" in json.dumps(why)


def bad_csv(tmp_path: Path, edit_row: int, change: dict[str, str] | None = None,
            drop: str | None = None) -> Path:
    with CSV.open() as handle:
        rows = list(csv.DictReader(handle))
    if change:
        rows[edit_row].update(change)
    fields = [f for f in rows[0] if f != drop]
    out = tmp_path / "bad.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({"drop": "body_mass_g"}, "body_mass_g"),
        ({"edit_row": 10, "change": {"flipper_length_mm": "tall"}}, "flipper_length_mm"),
    ],
    ids=["removed-column", "string-in-numeric-column"],
)
def test_bad_data_stops_before_transform(
    first_run: str, store: LineageStore, lockgate_home: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], variant: dict, expected: str,  # type: ignore[type-arg]
) -> None:
    data = bad_csv(tmp_path, **{"edit_row": 0, **variant})

    def use_bad_data(config: dict) -> None:  # type: ignore[type-arg]
        component(config, "ExampleGen")["params"]["input"] = str(data)

    served = fingerprint_dir(lockgate_home / "serving")
    run_id = f"bad-{expected}"
    capsys.readouterr()
    assert main(["run", str(config_variant(tmp_path, use_bad_data)), "--run-id", run_id]) == 1
    out = capsys.readouterr().out
    assert expected in out
    nodes = [e.node_id for e in store.run_executions("penguin", run_id)]
    assert "transform" not in nodes
    assert fingerprint_dir(lockgate_home / "serving") == served
    # Earlier runs' artifacts are untouched: each still matches its recorded fingerprint.
    for execution in store.run_executions("penguin", first_run):
        for artifacts in store.outputs_of(execution.id).values():
            for artifact in artifacts:
                assert fingerprint_dir(Path(artifact.uri)) == artifact.properties["fingerprint"]


def test_bulk_inferrer_predicts_every_eval_example_with_its_key(first_run: str,
                                                                store: LineageStore) -> None:
    """The shipped config's BulkInferrer: one row per eval example of the run, in Parquet and
    CSV, with the key column beside the model's outputs, recorded as an InferenceResult."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    executions = {e.node_id: e for e in store.run_executions("penguin", first_run)}
    [result] = store.outputs_of(executions["bulk_inferrer"].id)["inference_result"]
    [examples] = store.outputs_of(executions["example_gen"].id)["examples"]
    assert result.type == "InferenceResult"
    eval_rows = json.loads(examples.properties["split_rows"])["eval"]
    table = pq.read_table(Path(result.uri) / "Split-eval" / "predictions.parquet")
    assert table.num_rows == eval_rows == result.properties["rows"]
    assert "species" in table.column_names and len(table.column_names) > 1
    assert set(table["species"].to_pylist()) <= {0, 1, 2}
    as_csv = pacsv.read_csv(Path(result.uri) / "Split-eval" / "predictions.csv")
    assert as_csv.num_rows == eval_rows
