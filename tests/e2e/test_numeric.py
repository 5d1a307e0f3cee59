"""The shipped numeric pipeline end to end on the real libraries, from generated data.

30 float features and a binary label: the trained model clears the Evaluator's BinaryAccuracy
bound, is blessed and pushed, and the pushed model answers raw tf.Examples without the id.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO

pytestmark = pytest.mark.e2e
NUMERIC = REPO / "configs" / "numeric.yaml"
ROWS = 3000


def test_shipped_numeric_runs_green_blesses_and_pushes(lockgate_home: Path) -> None:
    data = lockgate_home / "data" / "numeric"
    assert main(["datagen", "numeric", "--rows", str(ROWS), "--out", str(data)]) == 0
    assert main(["run", str(NUMERIC), "--run-id", "green"]) == 0

    store = LineageStore(load_config(NUMERIC).metadata)
    executions = {e.node_id: e for e in store.run_executions("numeric", "green")}
    assert len(executions) == 8
    assert {(e.state, e.outcome) for e in executions.values()} == {("COMPLETE", "complete")}
    [examples] = store.outputs_of(executions["example_gen"].id)["examples"]
    assert sum(json.loads(examples.properties["split_rows"]).values()) == ROWS

    [blessing] = store.outputs_of(executions["evaluator"].id)["blessing"]
    assert blessing.properties["blessed"] == 1
    [evaluation] = store.outputs_of(executions["evaluator"].id)["evaluation"]
    overall = json.loads(Path(evaluation.uri, "summary.json").read_text())["slices"]["overall"]
    assert overall["binary_accuracy"]["value"] >= 0.7
    assert overall["example_count"]["value"] == json.loads(
        examples.properties["split_rows"])["eval"]

    [pushed] = store.outputs_of(executions["pusher"].id)["pushed_model"]
    served = lockgate_home / "serving" / "numeric" / "1"
    assert pushed.properties["path"] == str(served)
    assert sorted(p.name for p in served.parent.iterdir()) == ["1"]
    assert probabilities(served, data / "span-1" / "numeric.csv", rows=5).shape == (5, 1)


def probabilities(model_dir: Path, csv: Path, rows: int) -> np.ndarray:
    """The served model's answers to the first ``rows`` rows as raw tf.Examples, without id
    and label: what a client sends. Each is a probability."""
    import pyarrow.csv as pacsv
    import tensorflow as tf

    table = pacsv.read_csv(csv).slice(0, rows)
    examples = [
        tf.train.Example(features=tf.train.Features(feature={
            name: tf.train.Feature(float_list=tf.train.FloatList(value=[table[name][i].as_py()]))
            for name in table.column_names if name.startswith("f")
        })).SerializeToString()
        for i in range(rows)
    ]
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    [answer] = serve(examples=tf.constant(examples)).values()
    answer = answer.numpy()
    assert np.all((answer >= 0) & (answer <= 1)), answer
    return answer
