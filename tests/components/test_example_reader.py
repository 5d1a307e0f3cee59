"""ReadExamples against tfx-bsl's own BeamSource: the same rows and types, in a real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.sdk import layout
from tests.components.test_statistics_gen import examples_artifact, write_split

# What tfx-bsl infers without a schema: large lists, bytes for strings.
TYPES = ("mass: large_list<item: float>\n  child 0, item: float\n"
         "species: large_list<item: large_binary>\n  child 0, item: large_binary\n"
         "year: large_list<item: int64>\n  child 0, item: int64")
ROWS = [{"species": f"s{i % 3}", "mass": float(i), "year": 2000 + i % 7} for i in range(50)]


def _rows_and_types(
    batches: Any, label: str = "", raw_column: str | None = None
) -> tuple[Any, Any]:
    """Every decoded row as a tuple, and the distinct Arrow schemas of the batches."""
    import apache_beam as beam

    def rows(batch: Any) -> list[tuple[Any, ...]]:
        table = batch.to_pydict()
        raw = table.pop(raw_column) if raw_column else None
        out = [tuple(sorted((k, tuple(v[i])) for k, v in table.items()))
               for i in range(batch.num_rows)]
        if raw is not None:  # the raw record must be the row's own example
            import tensorflow as tf

            for i, row in enumerate(out):
                example = tf.train.Example.FromString(raw[i][0])
                assert tuple(example.features.feature["mass"].float_list.value) == dict(row)["mass"]
        return out

    return (batches | f"Rows{label}" >> beam.FlatMap(rows),
            batches | f"Types{label}" >> beam.Map(lambda b: str(b.schema))
            | f"Distinct{label}" >> beam.Distinct())


def test_rows_and_types_match_tfx_bsl_beam_source(tmp_path: Path) -> None:
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from tfx_bsl.public import tfxio

    from components.example_reader import ReadExamples

    examples = examples_artifact(tmp_path, {"train": []})
    write_split(examples, "train", ROWS, shards=3)
    files = layout.examples_files(examples, "train")
    with beam.Pipeline() as pipeline:
        ours = pipeline | "Ours" >> ReadExamples(files, batch_rows=7)
        theirs = pipeline | "Theirs" >> tfxio.TFExampleRecord(file_pattern=files).BeamSource()
        our_rows, our_types = _rows_and_types(ours, "Ours")
        their_rows, their_types = _rows_and_types(theirs, "Theirs")
        expected = [tuple(sorted((k, (v,)) for k, v in row.items())) for row in ROWS]
        expected = [tuple((k, (v[0].encode(),) if isinstance(v[0], str) else v)
                          for k, v in row) for row in expected]
        assert_that(our_rows, equal_to(expected), label="OurRows")
        assert_that(their_rows, equal_to(expected), label="TheirRows")
        assert_that(ours | beam.Map(lambda b: b.num_rows <= 7) | "AllSmall" >> beam.Distinct(),
                    equal_to([True]), label="BatchRows")
        assert_that(our_types, equal_to([TYPES]), label="OurTypes")
        assert_that(their_types, equal_to([TYPES]), label="TheirTypes")


def test_raw_record_column_holds_each_rows_example(tmp_path: Path) -> None:
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from components.example_reader import ReadExamples

    examples = examples_artifact(tmp_path, {"eval": ROWS})
    files = layout.examples_files(examples, "eval")
    with beam.Pipeline() as pipeline:
        rows, _ = _rows_and_types(pipeline | ReadExamples(files, raw_record_column="__raw__"),
                                  raw_column="__raw__")
        assert_that(rows | beam.combiners.Count.Globally(), equal_to([len(ROWS)]))


def test_a_corrupt_file_is_an_error_naming_it(tmp_path: Path) -> None:
    import apache_beam as beam

    from components.example_reader import ReadExamples

    examples = examples_artifact(tmp_path, {"train": ROWS})
    path = Path(layout.examples_files(examples, "train")[0])
    path.write_bytes(b"\x00" * 40)
    with (pytest.raises(Exception, match=f"{path.name} is not a valid TFRecord file"),
          beam.Pipeline() as pipeline):
        _ = pipeline | ReadExamples([str(path)])


def test_a_file_shared_by_workers_yields_every_row_once(tmp_path: Path) -> None:
    """Three workers, one file of 50 rows in 7-row batches: each decodes every third batch."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from components.example_reader import ReadExamples

    examples = examples_artifact(tmp_path, {"eval": ROWS})
    files = layout.examples_files(examples, "eval")
    assert len(files) == 1
    with beam.Pipeline() as pipeline:
        masses = (pipeline | ReadExamples(files, batch_rows=7, workers=3)
                  | beam.FlatMap(lambda b: [v[0] for v in b.column("mass").to_pylist()]))
        assert_that(masses, equal_to([row["mass"] for row in ROWS]))


def test_decode_files_gives_every_row_in_file_order(tmp_path: Path) -> None:
    import pyarrow as pa

    from components.example_reader import decode_files

    examples = examples_artifact(tmp_path, {"train": []})
    write_split(examples, "train", ROWS, shards=3)
    files = layout.examples_files(examples, "train")
    table = pa.Table.from_batches(list(decode_files(files, threads=2)))
    expected = [row["mass"] for shard in range(3) for row in ROWS[shard::3]]
    assert [v[0] for v in table.column("mass").to_pylist()] == expected
    assert list(decode_files([])) == []


def test_decode_files_names_a_corrupt_file(tmp_path: Path) -> None:
    from components.example_reader import decode_files
    from pipelines.errors import DataError

    examples = examples_artifact(tmp_path, {"train": ROWS})
    path = Path(layout.examples_files(examples, "train")[0])
    path.write_bytes(b"\x00" * 40)
    with pytest.raises(DataError, match=f"{path.name} is not a valid TFRecord file"):
        list(decode_files([str(path)]))
