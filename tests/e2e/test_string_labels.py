"""The shipped penguin_species pipeline (string labels) end to end on the real libraries.

One run of configs/penguin_species.yaml must push a blessed model whose serving signature
names its classes, and the Evaluator's recorded metrics must equal what numpy computes from
the pushed model's own answers on the raw eval split: so the string label was matched to the
right score, through the vocabulary tf.Transform computed, not by position or sort order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipelines.cli import main
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.sdk import layout
from tests.e2e.configs import REPO

pytestmark = pytest.mark.e2e
CONFIG = REPO / "configs" / "penguin_species.yaml"
CSV = REPO / "examples" / "penguin_species" / "data" / "penguins_species.csv"
PIPELINE = "penguin_species"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, LineageStore]]:
    """One run in a module-wide LOCKGATE_HOME, and its lineage store (opened while that home
    is set: the per-test home of conftest.py takes over once a test starts)."""
    home = tmp_path_factory.mktemp("species-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        assert main(["run", str(CONFIG), "--run-id", "first"]) == 0
        yield home, LineageStore(load_config(CONFIG).metadata)


def outputs(store: LineageStore, node: str) -> dict[str, Any]:
    [execution] = [e for e in store.run_executions(PIPELINE, "first") if e.node_id == node]
    assert execution.state == "COMPLETE", execution
    return store.outputs_of(execution.id)


def test_pushed_model_is_blessed_and_its_metrics_match_numpy(
    run: tuple[Path, LineageStore],
) -> None:
    import tensorflow as tf

    home, store = run
    [blessing] = outputs(store, "evaluator")["blessing"]
    assert blessing.properties["blessed"] == 1
    assert Path(blessing.uri, "BLESSED").is_file()
    assert sorted(p.name for p in (home / "serving" / PIPELINE).iterdir()) == ["1"]

    [examples] = outputs(store, "example_gen")["examples"]
    files = layout.examples_files(examples, "eval")
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = np.array([
        tf.train.Example.FromString(r).features.feature["species"].bytes_list.value[0]
        for r in records
    ])
    served = tf.saved_model.load(str(home / "serving" / PIPELINE / "1"))
    out = served.signatures["serving_default"](examples=tf.constant(records))
    scores, classes = out["scores"].numpy(), out["classes"].numpy()
    assert scores.shape == classes.shape == (len(records), 3)
    assert sorted(classes[0]) == [b"Adelie", b"Chinstrap", b"Gentoo"]
    predicted = classes[np.arange(len(records)), scores.argmax(axis=1)]
    accuracy = float((predicted == labels).mean())

    [evaluation] = outputs(store, "evaluator")["evaluation"]
    summary = json.loads(Path(evaluation.uri, "summary.json").read_text())
    overall = summary["slices"]["overall"]
    with CSV.open() as handle:
        rows = sum(1 for _ in handle) - 1
    assert overall["example_count"]["value"] == len(records)
    assert 0 < len(records) < rows  # the eval split, not all the data
    assert overall["sparse_categorical_accuracy"]["value"] == pytest.approx(accuracy, abs=1e-6)
    assert accuracy >= 0.8  # the config's threshold, which blessed it
    assert evaluation.properties["sparse_categorical_accuracy"] == pytest.approx(accuracy)
    # Slicing by the raw string feature: the per-island counts add up to the eval split.
    islands = [s for s in summary["slices"] if s.startswith("island=")]
    assert sorted(islands) == ["island=Biscoe", "island=Dream", "island=Torgersen"]
    assert sum(summary["slices"][s]["example_count"]["value"] for s in islands) == len(records)
