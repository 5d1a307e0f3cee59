"""ExampleGen's columnar copies: they read back as the records decode, batch for batch, they
exist only where that holds, and StatisticsGen reads them to the same statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components import example_columns
from components.example_gen import executor as example_gen
from components.example_gen import split_writer
from components.example_reader import decode_file, decode_files, examples_decoder
from pipelines.component import Artifact, ExecutionContext
from pipelines.errors import DataError
from pipelines.sdk import layout
from tests.helpers import executor_context

ROWS = 5000


def varied_table(rows: int = ROWS, seed: int = 0) -> pa.Table:
    """Every kind a tf.Example holds, with the cases the decoder treats specially: null cells,
    a column null in long runs (so whole batches lack it), empty and null lists, text, and rows
    with every cell null."""
    rng = np.random.default_rng(seed)
    gone = rng.random(rows) < 0.2

    def masked(values: np.ndarray, p: float) -> pa.Array:
        return pa.array(values, mask=(rng.random(rows) < p) | gone)

    tags = [None if rng.random() < 0.1 else [f"t{int(v)}" for v in rng.integers(0, 9, k)]
            for k in rng.integers(0, 4, rows)]
    return pa.table({
        "price": masked(rng.normal(10, 3, rows).astype(np.float32), 0.05),
        "clicks": masked(rng.integers(0, 100, rows), 0.3),
        "colour": masked(np.array(["red", "blue", "green"])[rng.integers(0, 3, rows)], 0.1),
        # Present only in the last tenth of the rows: earlier batches lack the column.
        "late": pa.array(np.arange(rows, dtype=np.float32),
                         mask=(np.arange(rows) < rows * 0.9) | gone),
        "tags": pa.array([None if g else t for g, t in zip(gone, tags, strict=True)],
                         pa.large_list(pa.string())),
        "scores": pa.array([None if g else [float(i % 3)] * (i % 3) for i, g in enumerate(gone)],
                           pa.large_list(pa.float64())),
    })


def run_example_gen(tmp_path: Path, table: pa.Table, monkeypatch: pytest.MonkeyPatch,
                    batch_rows: int = 700) -> Artifact:
    """ExampleGen on ``table`` as Parquet, in small batches and shards so both are many."""
    monkeypatch.setattr(example_gen, "BATCH_ROWS", batch_rows)
    monkeypatch.setattr(split_writer, "ROWS_PER_SHARD", 1500)
    tmp_path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp_path / "data.parquet")
    ctx = executor_context("ExampleGen", tmp_path, config_dir=tmp_path,
                           params={"input": "data.parquet", "format": "parquet"})
    example_gen.run(ctx)
    return ctx.outputs["examples"]


def copies_of(examples: Artifact) -> list[Path]:
    return sorted(Path(examples.uri).rglob(f"*{example_columns.SUFFIX}"))


def test_copies_read_back_as_the_records_decode(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    examples = run_example_gen(tmp_path, varied_table(), monkeypatch)
    compared = 0
    for split in layout.split_names(examples):
        files = layout.examples_files(examples, split)
        assert len(files) > 1
        for records in files:
            copy = example_columns.copy_path(records)
            assert copy.is_file(), copy
            decoded = list(decode_file(records, examples_decoder(), 200))
            read = list(example_columns.batches(example_columns.read_copy(copy), 200))
            assert len(read) == len(decoded) > 1
            for ours, theirs in zip(read, decoded, strict=True):
                assert ours.equals(theirs), (records, ours.schema, theirs.schema)
                compared += ours.num_rows
    assert compared == ROWS  # every row of every split, none lost or added
    # Some batch lacks the late column, and the late column exists: both cases were compared.
    names = [set(b.schema.names) for b in example_columns.batches(
        example_columns.read_copy(copies_of(examples)[0]), 200)]
    assert any("late" not in n for n in names)


def test_statistics_from_the_copies_equal_those_from_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.statistics_gen.executor import compute_statistics, read_statistics
    from pipelines.beam_mode import IN_MEMORY

    examples = run_example_gen(tmp_path, varied_table(), monkeypatch)
    files = {s: layout.examples_files(examples, s) for s in layout.split_names(examples)}
    read = []
    real_read = example_columns.read_copy

    def counting(path: Path) -> pa.Table:
        read.append(path)
        return real_read(path)

    monkeypatch.setattr(example_columns, "read_copy", counting)
    found = {}
    for name in ("copies", "records"):
        out = Artifact(type="ExampleStatistics", uri=str(tmp_path / name))
        how = compute_statistics(files, out, IN_MEMORY, in_process=True)
        assert ("columnar copies" in how) == (name == "copies"), how
        found[name] = {s: read_statistics(out, s) for s in files}
        for copy in copies_of(examples):  # the second round decodes the records
            copy.unlink()
    assert len(read) == sum(len(f) for f in files.values())
    assert found["copies"] == found["records"]


def test_an_unreadable_copy_is_logged_and_its_file_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    examples = run_example_gen(tmp_path, varied_table(), monkeypatch)
    files = layout.examples_files(examples, "train")
    expected = list(decode_files(files))
    broken = example_columns.copy_path(files[1])
    broken.write_bytes(broken.read_bytes()[:100])  # cut short
    with caplog.at_level("WARNING", logger="components.example_reader"):
        got = list(decode_files(files))
    assert len(got) == len(expected)
    assert all(a.equals(b) for a, b in zip(got, expected, strict=True))
    assert f"the columnar copy {broken} cannot be read" in caplog.text
    assert f"decoding {files[1]} instead" in caplog.text


def test_a_null_inside_a_list_leaves_no_copy_at_all(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """tfx-bsl encodes the null as 0, which a copy would not: one such row, in the last batch,
    removes the copies already written for the earlier ones."""
    table = varied_table()
    scores = table.column("scores").to_pylist()
    scores[-1] = [1.0, None]
    table = table.set_column(table.schema.get_field_index("scores"), "scores",
                             pa.array(scores, pa.large_list(pa.float64())))
    examples = run_example_gen(tmp_path, table, monkeypatch)
    assert copies_of(examples) == []
    files = layout.examples_files(examples, "train")
    assert sum(b.num_rows for b in decode_files(files)) > 0  # decoded from the records


def test_tfrecord_input_has_no_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_example_gen(tmp_path / "a", varied_table(800), monkeypatch)
    ctx = executor_context("ExampleGen", tmp_path / "b", config_dir=tmp_path, params={
        "input": str(layout.split_dir(first, "train") / layout.EXAMPLES_GLOB),
        "format": "tfrecord"})
    example_gen.run(ctx)
    again = ctx.outputs["examples"]
    assert layout.examples_files(again, "train") and copies_of(again) == []


def test_a_copy_cut_short_fails_statistics_gen_naming_the_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.statistics_gen.executor import run

    examples = run_example_gen(tmp_path / "eg", varied_table(), monkeypatch)
    copy = example_columns.copy_path(layout.examples_files(examples, "eval")[0])
    with pa.memory_map(str(copy)) as source:
        table = pa.ipc.open_file(source).read_all()
    writer = example_columns.CopyWriter(copy, table.schema)
    writer.write(table.slice(0, table.num_rows - 7).combine_chunks().to_batches()[0])
    writer.close()
    ctx: ExecutionContext = executor_context("StatisticsGen", tmp_path / "sg",
                                             inputs={"examples": [examples]})
    with pytest.raises(DataError) as error:
        run(ctx)
    message = str(error.value)
    assert "split 'eval'" in message and "ExampleGen recorded" in message
    assert "--no-cache" in message
