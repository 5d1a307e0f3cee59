"""Transform executor against real tf.Transform and Beam, on the penguin data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.component import Artifact, ExecutionContext
from pipelines.errors import UserCodeError
from pipelines.sdk import layout
from tests.penguin_data import (
    FEATURES,
    LABEL,
    PENGUIN_PREPROCESSING,
    penguin_inputs,
    penguin_table,
    read_examples,
    run_transform,
)


@pytest.fixture(scope="module")
def penguin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Artifact, Artifact]:
    return penguin_inputs(tmp_path_factory.mktemp("penguin"))


@pytest.fixture(scope="module")
def transformed(
    tmp_path_factory: pytest.TempPathFactory, penguin: tuple[Artifact, Artifact]
) -> ExecutionContext:
    return run_transform(tmp_path_factory.mktemp("transform"), penguin, PENGUIN_PREPROCESSING)


def test_transform_writes_graph_and_every_split(transformed: ExecutionContext) -> None:
    import tensorflow_transform as tft

    graph = transformed.outputs["transform_graph"]
    out = transformed.outputs["transformed_examples"]
    tft_output = tft.TFTransformOutput(graph.uri)
    assert set(tft_output.transformed_feature_spec()) == {*FEATURES, LABEL}
    assert not (graph.path / ".tft-tmp").exists()  # the Beam temp dir is cleaned up
    assert layout.split_names(out) == ["train", "eval"]
    rows = json.loads(out.properties["split_rows"])
    assert rows == {"train": 228, "eval": 114}
    for split in ("train", "eval"):
        files = layout.examples_files(out, split)
        assert files, split
        data = read_examples(files, tft_output.transformed_feature_spec())
        assert len(data[LABEL]) == rows[split]


def test_train_split_is_z_scored_and_label_passes_through(
    transformed: ExecutionContext, penguin: tuple[Artifact, Artifact]
) -> None:
    import tensorflow_transform as tft

    spec = tft.TFTransformOutput(transformed.outputs["transform_graph"].uri)
    train_files = layout.examples_files(transformed.outputs["transformed_examples"], "train")
    data = read_examples(train_files, spec.transformed_feature_spec())
    for name in FEATURES:
        assert abs(float(data[name].mean())) < 1e-4, name
        assert float(data[name].std()) == pytest.approx(1.0, abs=1e-3), name
    raw = read_examples(layout.examples_files(penguin[0], "train"), spec.raw_feature_spec())
    # Beam may reorder rows, so compare the label's distribution, not its sequence.
    assert np.bincount(data[LABEL].ravel()).tolist() == np.bincount(raw[LABEL].ravel()).tolist()


def test_eval_split_uses_train_statistics(transformed: ExecutionContext) -> None:
    """Eval is scaled with the train mean/std (not its own), so its mean is not exactly 0."""
    import tensorflow_transform as tft

    table = penguin_table()
    train = table.filter(pa.array(np.arange(table.num_rows) % 3 != 2))
    evals = table.filter(pa.array(np.arange(table.num_rows) % 3 == 2))
    spec = tft.TFTransformOutput(transformed.outputs["transform_graph"].uri)
    files = layout.examples_files(transformed.outputs["transformed_examples"], "eval")
    data = read_examples(files, spec.transformed_feature_spec())
    for name in FEATURES:
        mean = np.asarray(train[name]).astype(np.float64).mean()
        std = np.asarray(train[name]).astype(np.float64).std()
        expected = (np.asarray(evals[name]).mean() - mean) / std
        assert float(data[name].mean()) == pytest.approx(expected, abs=1e-3), name


def test_runs_on_beam_worker_processes(
    tmp_path: Path, penguin: tuple[Artifact, Artifact]
) -> None:
    """tf.Transform re-traces preprocessing_fn inside Beam workers, which must load the
    author's module from its path: a worker cannot import a module made in this process."""
    import tensorflow_transform as tft

    ctx = run_transform(
        tmp_path, penguin, PENGUIN_PREPROCESSING,
        beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=1"],
        transform_splits=["eval"],
    )
    out = ctx.outputs["transformed_examples"]
    assert layout.split_names(out) == ["eval"]
    assert json.loads(out.properties["split_rows"]) == {"eval": 114}
    spec = tft.TFTransformOutput(ctx.outputs["transform_graph"].uri)
    data = read_examples(layout.examples_files(out, "eval"), spec.transformed_feature_spec())
    assert len(data[LABEL]) == 114


def test_an_analysed_split_is_read_again_for_its_transform(
    tmp_path: Path, penguin: tuple[Artifact, Artifact], caplog: pytest.LogCaptureFixture,
) -> None:
    """No PCollection feeds both the analysis and the transform: with one read feeding both,
    the DirectRunner's two workers lost train rows (see ``_run_pipeline``)."""
    with caplog.at_level(logging.INFO, logger="lockgate"):
        run_transform(tmp_path, penguin, PENGUIN_PREPROCESSING)
    assert "reading split train again to transform it" in caplog.text
    assert "reading split eval again" not in caplog.text  # not analysed: read once anyway


def test_rows_lost_between_input_and_output_fail_the_node(
    tmp_path: Path, penguin: tuple[Artifact, Artifact]
) -> None:
    """A 10M-row run once wrote 4.78M of 6.67M train rows (a Beam runner lost them): the
    transformed rows must be the input's, or nothing is published."""
    import dataclasses

    from pipelines.errors import DataError

    examples, schema = penguin
    assert json.loads(examples.properties["split_rows"]) == {"train": 228, "eval": 114}
    claims_more = dataclasses.replace(examples, properties={
        **examples.properties, "split_rows": json.dumps({"train": 233, "eval": 114})})
    with pytest.raises(DataError, match=r"Transform wrote 228 rows of split 'train', but its "
                                        r"input Examples \(.*\) hold 233: the Beam runner"):
        run_transform(tmp_path, (claims_more, schema), PENGUIN_PREPROCESSING)


def test_analyze_split_that_does_not_exist_is_a_clear_error(
    tmp_path: Path, penguin: tuple[Artifact, Artifact]
) -> None:
    from pipelines.errors import DataError

    with pytest.raises(DataError, match=r"analyze_splits \['training'\].*\['train', 'eval'\]"):
        run_transform(tmp_path, penguin, PENGUIN_PREPROCESSING, analyze_splits=["training"])


def test_preprocessing_fn_that_raises_is_wrapped(
    tmp_path: Path, penguin: tuple[Artifact, Artifact]
) -> None:
    module = tmp_path / "bad_preprocessing.py"
    module.write_text(
        "def preprocessing_fn(inputs):\n"
        "    return {'x': inputs['no_such_feature']}\n"
    )
    with pytest.raises(UserCodeError) as info:
        run_transform(tmp_path, penguin, module)
    assert info.value.node == "transform"
    assert info.value.module == str(module)
    assert isinstance(info.value.cause, KeyError)
    # The message names the features that do exist.
    assert "'no_such_feature' is not a feature" in str(info.value)
    assert "'culmen_depth_mm'" in str(info.value)
    assert str(module) in str(info.value)


def test_preprocessing_fn_returning_garbage_is_wrapped(
    tmp_path: Path, penguin: tuple[Artifact, Artifact]
) -> None:
    module = tmp_path / "garbage.py"
    module.write_text("def preprocessing_fn(inputs):\n    return 42\n")
    with pytest.raises(UserCodeError) as info:
        run_transform(tmp_path, penguin, module)
    assert info.value.module == str(module)
    assert "must return a Dict" in str(info.value)
