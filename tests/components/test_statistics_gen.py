"""StatisticsGen executor against real TFDV and Beam, on small hand-written examples.

The helpers here (``write_split``, ``examples_artifact``, ``run_statistics``) also build the
inputs of the SchemaGen and ExampleValidator tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipelines.component import Artifact, ExecutionContext
from pipelines.errors import DataError
from pipelines.sdk import layout
from tests.helpers import executor_context

Row = Mapping[str, float | int | str]


def write_split(examples: Artifact, split: str, rows: Sequence[Row], shards: int = 1) -> None:
    """Gzipped TFRecord tf.Examples of ``rows``, one value per feature, in ExampleGen's layout.
    The feature's type follows the Python value: float, int or str."""
    import tensorflow as tf

    def feature(value: float | int | str) -> tf.train.Feature:
        if isinstance(value, str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        if isinstance(value, int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    target = layout.split_dir(examples, split)
    target.mkdir(parents=True, exist_ok=True)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for shard in range(shards):
        path = target / f"data-{shard:05d}-of-{shards:05d}.tfrecord.gz"
        with tf.io.TFRecordWriter(str(path), options) as writer:
            for row in rows[shard::shards]:
                example = tf.train.Example(features=tf.train.Features(
                    feature={name: feature(value) for name, value in row.items()}
                ))
                writer.write(example.SerializeToString())


def examples_artifact(root: Path, splits: Mapping[str, Sequence[Row]]) -> Artifact:
    examples = Artifact(type="Examples", uri=str(root / "examples"))
    for split, rows in splits.items():
        write_split(examples, split, rows)
    layout.set_split_names(examples, list(splits))
    return examples


def run_statistics(
    root: Path,
    examples: Artifact,
    schema: Artifact | None = None,
    params: dict[str, object] | None = None,
) -> ExecutionContext:
    from components.statistics_gen.executor import run

    inputs = {"examples": [examples]} | ({"schema": [schema]} if schema else {})
    ctx = executor_context("StatisticsGen", root, params=params, inputs=inputs)
    run(ctx)
    return ctx


def rows(n: int, offset: float = 0.0) -> list[Row]:
    """Deterministic rows: a float, an int and a string feature."""
    return [
        {"length": float(i % 10) + offset, "count": i % 4, "colour": ("red", "blue")[i % 2]}
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def two_splits(tmp_path_factory: pytest.TempPathFactory) -> ExecutionContext:
    root = tmp_path_factory.mktemp("stats")
    examples = examples_artifact(root, {"train": rows(40), "eval": rows(20, offset=100.0)})
    return run_statistics(root, examples)


def test_statistics_for_every_split(two_splits: ExecutionContext) -> None:
    from components.statistics_gen.executor import read_statistics

    out = two_splits.outputs["statistics"]
    assert layout.split_names(out) == ["train", "eval"]
    assert json.loads(out.properties["split_rows"]) == {"train": 40, "eval": 20}
    for split, offset, count in (("train", 0.0, 40), ("eval", 100.0, 20)):
        assert (layout.split_dir(out, split) / layout.STATS_FILE).is_file()
        dataset = read_statistics(out, split).datasets[0]
        assert dataset.num_examples == count
        by_name = {".".join(f.path.step): f for f in dataset.features}
        assert set(by_name) == {"length", "count", "colour"}
        # The eval split's lengths are shifted by 100: each split got its own statistics.
        length = by_name["length"].num_stats
        assert length.mean == pytest.approx(4.5 + offset)
        assert (length.min, length.max) == (pytest.approx(offset), pytest.approx(9 + offset))
        assert by_name["colour"].string_stats.unique == 2


def test_all_splits_run_in_one_beam_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import apache_beam as beam

    runs = []
    real_run = beam.Pipeline.run

    def counting_run(self: beam.Pipeline, *args: object, **kwargs: object) -> object:
        runs.append(self)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(beam.Pipeline, "run", counting_run)
    examples = examples_artifact(tmp_path, {"a": rows(8), "b": rows(8), "c": rows(8)})
    ctx = run_statistics(tmp_path, examples, params={"exclude_splits": ["c"]})
    assert len(runs) == 1
    out = ctx.outputs["statistics"]
    assert layout.split_names(out) == ["a", "b"]
    assert not layout.split_dir(out, "c").exists()


def test_schema_input_guides_statistics(tmp_path: Path) -> None:
    """With a schema saying ``count`` is categorical, TFDV computes category statistics
    (string_stats) for it instead of numeric ones."""
    from components.statistics_gen.executor import read_statistics

    schema = Artifact(type="Schema", uri=str(tmp_path / "schema"))
    schema.path.mkdir()
    (schema.path / layout.SCHEMA_FILE).write_text(
        'feature { name: "count" type: INT int_domain { is_categorical: true } }\n'
        'feature { name: "length" type: FLOAT }\n'
        'feature { name: "colour" type: BYTES }\n'
    )
    examples = examples_artifact(tmp_path, {"train": rows(12)})
    ctx = run_statistics(tmp_path, examples, schema=schema)
    dataset = read_statistics(ctx.outputs["statistics"], "train").datasets[0]
    count = next(f for f in dataset.features if f.path.step == ["count"])
    assert count.HasField("string_stats") and count.string_stats.unique == 4


def test_mixed_types_in_a_feature_name_the_feature_and_split(tmp_path: Path) -> None:
    bad = rows(10)
    bad[3] = {**bad[3], "length": "tall"}
    examples = examples_artifact(tmp_path, {"train": rows(10), "eval": bad})
    with pytest.raises(DataError) as error:
        run_statistics(tmp_path, examples)
    message = str(error.value)
    assert "'length'" in message and "'eval'" in message and "different types" in message


def test_split_without_files_is_a_clear_error(tmp_path: Path) -> None:
    examples = examples_artifact(tmp_path, {"train": rows(5)})
    layout.split_dir(examples, "eval").mkdir()
    layout.set_split_names(examples, ["train", "eval"])
    with pytest.raises(DataError, match="split 'eval' of the examples has no data files"):
        run_statistics(tmp_path, examples)


def test_reading_a_missing_split_lists_the_splits(two_splits: ExecutionContext) -> None:
    from components.statistics_gen.executor import read_statistics

    with pytest.raises(DataError, match=r"no split 'test'.*train, eval"):
        read_statistics(two_splits.outputs["statistics"], "test")
