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

Row = Mapping[str, float | int | str | list[float | int | str]]


def write_split(examples: Artifact, split: str, rows: Sequence[Row], shards: int = 1) -> None:
    """Gzipped TFRecord tf.Examples of ``rows`` in ExampleGen's layout. The feature's type
    follows the Python value: float, int or str, or a non-empty list of one of them."""
    import tensorflow as tf

    def feature(value: float | int | str | list[float | int | str]) -> tf.train.Feature:
        values = value if isinstance(value, list) else [value]
        if values and isinstance(values[0], str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[str(v).encode() for v in values]))
        if values and isinstance(values[0], int):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

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


def _counting_beam_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    import apache_beam as beam

    runs: list[object] = []
    real_run = beam.Pipeline.run

    def counting_run(self: beam.Pipeline, *args: object, **kwargs: object) -> object:
        runs.append(self)
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(beam.Pipeline, "run", counting_run)
    return runs


def test_on_the_direct_runner_no_beam_pipeline_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _counting_beam_runs(monkeypatch)
    examples = examples_artifact(tmp_path, {"a": rows(8), "b": rows(8)})
    ctx = run_statistics(tmp_path, examples)
    assert runs == []
    assert layout.split_names(ctx.outputs["statistics"]) == ["a", "b"]


def test_on_beam_all_splits_run_in_one_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact top-k runs on Beam only, so ``sketch_top_k: false`` takes the Beam path, as a
    runner that scales out does."""
    runs = _counting_beam_runs(monkeypatch)
    examples = examples_artifact(tmp_path, {"a": rows(8), "b": rows(8), "c": rows(8)})
    ctx = run_statistics(tmp_path, examples,
                         params={"exclude_splits": ["c"], "sketch_top_k": False})
    assert len(runs) == 1
    out = ctx.outputs["statistics"]
    assert layout.split_names(out) == ["a", "b"]
    assert not layout.split_dir(out, "c").exists()


def varied_rows(n: int) -> list[dict[str, float | int | str | list[float | int | str]]]:
    """Floats, ints, a string feature whose values all have different counts (so top-k order
    has no ties), a list feature of varying length, and values missing now and then."""
    out = []
    for i in range(n):
        row: dict[str, float | int | str | list[float | int | str]] = {
            "price": (i * 7919 % 1000) / 7.0 - 20.0,
            "clicks": i * 31 % 97,
            "colour": f"c{int((i * 2654435761 % 2**32) / 2**32 * 12) ** 2 % 50}",
            "tags": [f"t{j}" for j in range(1 + i % 4)],
        }
        if i % 11 == 0:
            del row["price"]
        if i % 13 == 0:
            del row["tags"]
        out.append(row)
    return out


def _assert_close(beam: object, here: object, where: str = "") -> None:
    if isinstance(beam, dict) and isinstance(here, dict):
        assert beam.keys() == here.keys(), where
        for key in beam:
            _assert_close(beam[key], here[key], f"{where}.{key}")
    elif isinstance(beam, list) and isinstance(here, list):
        assert len(beam) == len(here), where
        for i, (a, b) in enumerate(zip(beam, here, strict=True)):
            _assert_close(a, b, f"{where}[{i}]")
    elif isinstance(beam, float) or isinstance(here, float):
        assert here == pytest.approx(beam, rel=1e-9, abs=1e-9), where
    else:
        assert beam == here, where


def test_in_process_statistics_equal_the_beam_pipeline_s(tmp_path: Path) -> None:
    """Same data, both paths: the same TFDV statistics, within float tolerance. 20k rows in two
    shards cross the reader's 8192-row batches, so the accumulators really merge."""
    from google.protobuf import json_format

    from components.statistics_gen.executor import compute_statistics, read_statistics
    from pipelines.beam_mode import IN_MEMORY

    examples = Artifact(type="Examples", uri=str(tmp_path / "examples"))
    write_split(examples, "train", varied_rows(20_000), shards=2)
    files = {"train": layout.examples_files(examples, "train")}
    found = {}
    for in_process in (False, True):
        out = Artifact(type="ExampleStatistics", uri=str(tmp_path / f"stats-{in_process}"))
        how = compute_statistics(files, out, IN_MEMORY, in_process=in_process)
        assert how.startswith("in process" if in_process else "on Beam")
        found[in_process] = json_format.MessageToDict(read_statistics(out, "train"))
    beam, here = found[False], found[True]
    assert beam["datasets"][0]["numExamples"] == "20000"
    names = {f["path"]["step"][0] for f in beam["datasets"][0]["features"]}
    assert names == {"price", "clicks", "colour", "tags"}
    _assert_close(beam, here)


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


@pytest.mark.parametrize("sketch_top_k", [True, False], ids=["in-process", "beam"])
def test_mixed_types_in_a_feature_name_the_feature_and_split(
    tmp_path: Path, sketch_top_k: bool
) -> None:
    bad = rows(10)
    bad[3] = {**bad[3], "length": "tall"}
    examples = examples_artifact(tmp_path, {"train": rows(10), "eval": bad})
    with pytest.raises(DataError) as error:
        run_statistics(tmp_path, examples, params={"sketch_top_k": sketch_top_k})
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
