"""ExampleGen's executor on real files, with pyarrow, tfx-bsl and TensorFlow reading back."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.example_gen import ExampleGenParams
from components.example_gen.executor import run
from components.example_gen.spans import (
    SpanNotLanded,
    available_spans,
    fingerprint,
    resolve_files,
)
from components.tfrecord import frame, read_records, record_crcs
from pipelines.component import Artifact, ExecutionContext
from pipelines.errors import DataError
from pipelines.sdk import date_of_span, layout, span_of_date
from tests.helpers import REPO, executor_context

PENGUIN_CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
PENGUIN_COLUMNS = ["species", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm",
                   "body_mass_g"]


def run_example_gen(tmp_path: Path, **params: object) -> ExecutionContext:
    ctx = executor_context("ExampleGen", tmp_path, params=params, config_dir=tmp_path)
    run(ctx)
    return ctx


def examples(ctx: ExecutionContext) -> Artifact:
    return ctx.outputs["examples"]


def decoded_rows(artifact: Artifact, split: str) -> list[dict[str, list[object]]]:
    """Each Example of a split as {feature: values}; absent features are absent keys."""
    from tensorflow_metadata.proto.v0 import schema_pb2  # noqa: F401  (tfx-bsl needs it loaded)
    from tfx_bsl.coders.example_coder import ExamplesToRecordBatchDecoder

    files = layout.examples_files(artifact, split)
    records = [r for f in files for r in read_records(Path(f))[0]]
    if not records:
        return []
    batch = ExamplesToRecordBatchDecoder().DecodeBatch(records)
    columns = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
    return [
        {name: values[row] for name, values in columns.items() if values[row] is not None}
        for row in range(batch.num_rows)
    ]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ----- the penguin CSV, read back with TensorFlow -------------------------------------------


@pytest.fixture(scope="module")
def penguin(tmp_path_factory: pytest.TempPathFactory) -> ExecutionContext:
    tmp = tmp_path_factory.mktemp("penguin")
    ctx = executor_context("ExampleGen", tmp, params={"input": str(PENGUIN_CSV)})
    run(ctx)
    return ctx


def test_penguin_csv_round_trips_through_tf_data(penguin: ExecutionContext) -> None:
    import tensorflow as tf

    out = examples(penguin)
    assert layout.split_names(out) == ["train", "eval"]
    split_rows = json.loads(out.properties["split_rows"])
    assert sum(split_rows.values()) == 342
    with PENGUIN_CSV.open() as handle:
        expected = {tuple(float(v) for v in row.values()) for row in csv.DictReader(handle)}

    seen = set()
    for split in ("train", "eval"):
        files = layout.examples_files(out, split)
        assert [Path(f).name for f in files] == ["data-00000-of-00001.tfrecord.gz"]
        count = 0
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            features = example.features.feature
            assert set(features) == set(PENGUIN_COLUMNS)
            [species] = features["species"].int64_list.value
            assert species in (0, 1, 2)
            values = [float(species)] + [
                round(features[c].float_list.value[0], 2) for c in PENGUIN_COLUMNS[1:]
            ]
            seen.add(tuple(values))
            count += 1
        assert count == split_rows[split]
    assert seen == expected


def test_penguin_properties_describe_the_input(penguin: ExecutionContext) -> None:
    from pipelines.fingerprint import fingerprint_paths

    props = examples(penguin).properties
    assert props["span"] == 0 and props["version"] == 0
    assert props["bad_rows"] == 0 and "quarantine" not in props
    assert json.loads(props["input_files"]) == [str(PENGUIN_CSV)]
    assert props["input_fingerprint"] == fingerprint_paths([PENGUIN_CSV])
    assert len(props["input_fingerprint"]) >= 16


def test_framing_is_byte_identical_to_tensorflow_writer(tmp_path: Path) -> None:
    import tensorflow as tf

    records = [b"", b"x", b"\x00" * 3, os.urandom(1000), b"tail\x00"]
    with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
        for record in records:
            writer.write(record)
    assert (tmp_path / "tf.tfrecord").read_bytes() == frame(records, record_crcs(records))
    assert read_records(tmp_path / "tf.tfrecord")[0] == records


# ----- splitting -----------------------------------------------------------------------------


def test_split_is_roughly_two_to_one_and_deterministic(tmp_path: Path) -> None:
    rows = [[i, f"user{i % 97}", i * 0.5] for i in range(3000)]
    write_csv(tmp_path / "data.csv", ["id", "user", "score"], rows)
    first = run_example_gen(tmp_path / "a", input=str(tmp_path / "data.csv"))
    counts = json.loads(examples(first).properties["split_rows"])
    assert counts["train"] + counts["eval"] == 3000
    assert 1.8 < counts["train"] / counts["eval"] < 2.2
    # tfx-bsl orders each Example's features differently on every call, so compare values.
    again = run_example_gen(tmp_path / "b", input=str(tmp_path / "data.csv"))
    for split in ("train", "eval"):
        assert decoded_rows(examples(first), split) == decoded_rows(examples(again), split)


def test_three_way_split_by_weight(tmp_path: Path) -> None:
    write_csv(tmp_path / "data.csv", ["id"], [[i] for i in range(4000)])
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"train": 8, "eval": 1, "test": 1})
    counts = json.loads(examples(ctx).properties["split_rows"])
    assert list(counts) == ["train", "eval", "test"]
    assert 3000 < counts["train"] < 3400 and 300 < counts["eval"] < 500
    assert 300 < counts["test"] < 500


def test_partition_feature_keeps_groups_together(tmp_path: Path) -> None:
    rows = [[f"user{u}", u * 100 + k, float(k)] for u in range(60) for k in range(10)]
    write_csv(tmp_path / "data.csv", ["user", "event", "value"], rows)
    ctx = run_example_gen(tmp_path, input="data.csv", partition_feature="user")
    where: dict[bytes, set[str]] = {}
    for split in ("train", "eval"):
        for row in decoded_rows(examples(ctx), split):
            where.setdefault(row["user"][0], set()).add(split)
    assert len(where) == 60
    assert all(len(splits) == 1 for splits in where.values())
    in_eval = sum(1 for splits in where.values() if splits == {"eval"})
    assert 8 <= in_eval <= 35  # about a third of the 60 users


def test_unknown_partition_feature_is_named_with_a_hint(tmp_path: Path) -> None:
    write_csv(tmp_path / "data.csv", ["user_id", "x"], [["a", 1]])
    with pytest.raises(DataError, match=r"'user' is not a column.*Did you mean 'user_id'"):
        run_example_gen(tmp_path, input="data.csv", partition_feature="user")


# ----- types and missing values --------------------------------------------------------------


def test_types_nulls_and_text(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(
        "n,x,country,note,zip,padded\n"
        '1,1.5,NA,"",02134, 7\n'
        "2,,US,,02139,+8\n"
        '3,2.5,,"a, b",10001,9 \n'
    )
    ctx = run_example_gen(tmp_path, input="data.csv", column_types={"zip": "string"},
                          splits={"all": 1})
    rows = sorted(decoded_rows(examples(ctx), "all"), key=lambda r: r["n"])
    assert rows[0] == {"n": [1], "x": [1.5], "country": [b"NA"], "note": [b""],
                       "zip": [b"02134"], "padded": [7]}
    assert "x" not in rows[1] and "note" not in rows[1]  # empty cells: absent features
    assert rows[1]["padded"] == [8]
    assert "country" not in rows[2] and rows[2]["note"] == [b"a, b"]


def test_dates_times_and_booleans_stay_text(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("day,at,ok\n2024-01-31,12:30:00,true\n"
                                       "2024-02-01,13:00:00,false\n")
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"all": 1})
    rows = sorted(decoded_rows(examples(ctx), "all"), key=lambda r: r["day"])
    assert rows[0] == {"day": [b"2024-01-31"], "at": [b"12:30:00"], "ok": [b"true"]}


def test_forced_column_types_make_other_values_malformed(tmp_path: Path) -> None:
    write_csv(tmp_path / "data.csv", ["id", "count", "score"],
              [[1, 5, 1], [2, 6.5, 2], [3, 7, "high"], [4, 8, 4]])
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"all": 1},
                          column_types={"count": "int", "score": "float"},
                          max_bad_row_fraction=0.5)
    out = examples(ctx)
    with (out.path / "quarantine" / "bad_rows.csv").open() as handle:
        assert [row["reason"] for row in csv.DictReader(handle)] == [
            "count='6.5' is not an integer", "score='high' is not a number"]
    rows = sorted(decoded_rows(out, "all"), key=lambda r: r["id"])
    assert rows == [{"id": [1], "count": [5], "score": [1.0]},
                    {"id": [4], "count": [8], "score": [4.0]}]


def test_a_row_with_every_cell_empty_is_an_example_without_features(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,x\n,\n")
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"all": 1})
    rows = decoded_rows(examples(ctx), "all")
    assert sorted(map(len, rows)) == [0, 2]


# ----- malformed rows -------------------------------------------------------------------------


def penguin_with(tmp_path: Path, row: int, column: str, value: str) -> Path:
    with PENGUIN_CSV.open() as handle:
        rows = list(csv.reader(handle))
    rows[row + 1][PENGUIN_COLUMNS.index(column)] = value
    return write_csv(tmp_path / "penguins.csv", rows[0], rows[1:])


def test_a_word_in_a_numeric_column_fails_with_file_line_and_column(tmp_path: Path) -> None:
    data = penguin_with(tmp_path, 10, "flipper_length_mm", "tall")
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path, input=str(data))
    message = str(caught.value)
    assert "flipper_length_mm" in message
    assert f"{data}:12: flipper_length_mm='tall' is not a number" in message
    assert "1 of 342 rows" in message
    assert "max_bad_row_fraction" in message and "Fix the data" in message
    assert caught.value.count == 1


def test_error_sample_is_bounded(tmp_path: Path) -> None:
    rows = [[i, "oops" if i % 10 == 0 else i] for i in range(200)]
    write_csv(tmp_path / "data.csv", ["id", "value"], rows)
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path, input="data.csv")
    assert caught.value.count == 20
    assert len(caught.value.examples) == 5
    assert "... and 15 more" in str(caught.value)


def test_malformed_rows_are_quarantined_with_lines(tmp_path: Path) -> None:
    lines = ["id,name,followers"]
    lines += [f'{i},"dog {i}",{i * 10}' for i in range(1, 40)]
    lines[5] = '5,"dog\nwith a newline",50'  # a quoted newline: later line numbers shift
    lines[10] = '10,"dog 10"'  # too few fields
    lines[20] = '20,"dog 20",12k'  # not a number
    lines[30] = '30,"dog 30",300,extra'  # too many fields
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    ctx = run_example_gen(tmp_path, input="data.csv", max_bad_row_fraction=0.1)
    out = examples(ctx)
    assert out.properties["bad_rows"] == 3
    assert sum(json.loads(out.properties["split_rows"]).values()) == 36
    assert out.properties["quarantine"] == "quarantine/bad_rows.csv"  # relative to the uri
    quarantine = out.path / out.properties["quarantine"]
    with quarantine.open() as handle:
        bad = list(csv.DictReader(handle))
    assert [(row["line"], row["reason"]) for row in bad] == [
        ("12", "2 fields, expected 3"),
        ("22", "followers='12k' is not a number"),
        ("32", "4 fields, expected 3"),
    ]
    assert bad[1]["row"] == '20,"dog 20",12k'
    assert all(row["file"] == str(tmp_path / "data.csv") for row in bad)
    followers = [r["followers"][0] for s in ("train", "eval") for r in decoded_rows(out, s)]
    assert all(isinstance(v, int) for v in followers)  # "12k" did not make the column text


def test_byte_order_mark_crlf_and_gzip_keep_names_and_lines(tmp_path: Path) -> None:
    text = "\ufeffid,value\r\n1,10\r\n\r\n2,oops\r\n3,30\r\n"
    with gzip.open(tmp_path / "data.csv.gz", "wt", newline="") as handle:
        handle.write(text)
    with pytest.raises(DataError, match=r"data\.csv\.gz:4: value='oops' is not a number: 2,oops"):
        run_example_gen(tmp_path, input="data.csv.gz")


def test_too_many_malformed_rows_fail_even_when_some_are_allowed(tmp_path: Path) -> None:
    rows = [[i, "x" if i < 3 else i] for i in range(100)]
    write_csv(tmp_path / "data.csv", ["id", "value"], rows)
    with pytest.raises(DataError, match=r"3 of 100 rows \(3.00%\)"):
        run_example_gen(tmp_path, input="data.csv", max_bad_row_fraction=0.02)


def test_a_bad_value_after_the_first_block_is_still_found(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from components.example_gen import csv_read

    monkeypatch.setattr(csv_read, "BLOCK_SIZE", 1024)  # the first block holds ~100 rows
    rows = [[i, i * 2, i / 4] for i in range(2000)]
    rows[1900][1] = "12k"
    rows[1950][2] = "lots"
    write_csv(tmp_path / "data.csv", ["id", "count", "ratio"], rows)
    ctx = run_example_gen(tmp_path, input="data.csv", max_bad_row_fraction=0.01,
                          splits={"all": 1})
    with (examples(ctx).path / "quarantine" / "bad_rows.csv").open() as handle:
        bad = [(row["line"], row["reason"]) for row in csv.DictReader(handle)]
    assert bad == [("1902", "count='12k' is not a number"),
                   ("1952", "ratio='lots' is not a number")]
    got = decoded_rows(examples(ctx), "all")
    assert len(got) == 1998
    assert all(isinstance(r["count"][0], int) and isinstance(r["ratio"][0], float) for r in got)


def write_late_surprises(path: Path) -> None:
    """1500 rows whose columns the first ~60 rows type wrongly, or not at all."""
    rows: list[list[object]] = [[i, i, "", "", i, "", i / 8] for i in range(1500)]
    rows[1400][1] = 2.25  # int, then a float: a float column
    rows[1450][2] = 3.5  # empty, then numbers: a float column
    rows[1460][2] = 4.0
    rows[1470][3] = "late"  # empty, then text: text
    rows[1480][4] = "word"  # int, then mostly ints with one word: ints, one malformed row
    write_csv(path, ["id", "count", "late_num", "late_text", "n", "never", "x"], rows)


def test_later_blocks_that_disagree_with_the_first_get_the_whole_file_type(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns are parsed to the first block's types; a later block decides otherwise."""
    from components.example_gen import csv_read

    monkeypatch.setattr(csv_read, "BLOCK_SIZE", 1024)  # the first block holds ~60 rows
    write_late_surprises(tmp_path / "data.csv")
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"all": 1},
                          max_bad_row_fraction=0.01)
    got = {row["id"][0]: row for row in decoded_rows(examples(ctx), "all")}
    assert len(got) == 1499 and 1480 not in got  # the "word" row is quarantined
    assert got[1400]["count"] == [2.25] and got[3]["count"] == [3.0]
    assert got[1450]["late_num"] == [3.5] and got[1460]["late_num"] == [4.0]
    assert "late_num" not in got[3]
    assert got[1470]["late_text"] == [b"late"]
    assert got[7]["n"] == [7] and got[7]["x"] == [pytest.approx(7 / 8)]
    assert all("never" not in row for row in got.values())  # empty everywhere: no feature


def test_first_block_types_read_what_whole_file_inference_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same table and malformed rows as pyarrow's own whole-file inference, which the
    parse falls back to (with no typed attempts left, straight away)."""
    from components.example_gen import csv_read

    monkeypatch.setattr(csv_read, "BLOCK_SIZE", 1024)
    write_late_surprises(tmp_path / "data.csv")

    def read() -> csv_read.CsvFile:
        return csv_read.read_csv(tmp_path / "data.csv", delimiter=",", column_types={},
                                 max_bad_row_fraction=0.01)

    typed = read()
    monkeypatch.setattr(csv_read, "_RETYPES", 0)
    inferred = read()
    assert typed.table.schema.field("never").type == pa.null()
    assert typed.table.equals(inferred.table), (typed.table.schema, inferred.table.schema)
    assert typed.bad == inferred.bad and len(typed.bad) == 1 and typed.rows == 1500


def test_a_typed_parse_does_not_hold_the_file_in_memory(tmp_path: Path) -> None:
    """pyarrow keeps every parsed block of a column it must infer; typed, it frees them. The
    peak of Arrow's pool, in a fresh process, stays near the float32 table it returns."""
    data = tmp_path / "wide.csv"
    values = np.random.default_rng(3).normal(size=(200_000, 10)).round(4)
    np.savetxt(data, values, delimiter=",", fmt="%.4f",
               header=",".join(f"f{i}" for i in range(10)), comments="")
    script = (
        "import sys; from pathlib import Path; import pyarrow as pa\n"
        "from components.example_gen.csv_read import read_csv\n"
        "got = read_csv(Path(sys.argv[1]), delimiter=',', column_types={},"
        " max_bad_row_fraction=0.0)\n"
        "print(got.table.nbytes, pa.default_memory_pool().max_memory(), got.table.schema.types)"
    )
    out = subprocess.run([sys.executable, "-c", script, str(data)], check=True, cwd=REPO,
                         capture_output=True, text=True).stdout.split(maxsplit=2)
    table_bytes, peak = int(out[0]), int(out[1])
    assert table_bytes == 200_000 * 10 * 4 and "float" in out[2]
    assert peak < 3 * table_bytes, (peak, table_bytes)  # inferring: 4.5x


def test_a_mostly_text_column_is_text_not_malformed(tmp_path: Path) -> None:
    rows = [[i, str(i) if i < 3 else f"tag{i}"] for i in range(50)]
    write_csv(tmp_path / "data.csv", ["id", "tag"], rows)
    ctx = run_example_gen(tmp_path, input="data.csv", splits={"all": 1})
    tags = {r["tag"][0] for r in decoded_rows(examples(ctx), "all")}
    assert b"1" in tags and b"tag40" in tags


def test_pupdates_generator_bad_rows_are_quarantined(tmp_path: Path) -> None:
    from pipelines.datagen.pupdates import generate

    [data] = generate(tmp_path / "pup", rows=5000, spans=1, seed=7, drift="none",
                      missing_fraction=0.02, bad_row_fraction=0.005)
    ctx = run_example_gen(tmp_path, input=str(data), max_bad_row_fraction=0.01)
    out = examples(ctx)
    bad = out.properties["bad_rows"]
    assert 5 <= bad <= 60
    assert sum(json.loads(out.properties["split_rows"]).values()) + bad == 5000
    with (out.path / out.properties["quarantine"]).open() as handle:
        quarantined = list(csv.DictReader(handle))
    assert len(quarantined) == bad
    lines = data.read_text().splitlines()
    for row in quarantined:
        assert lines[int(row["line"]) - 1] == row["row"]
    rows = decoded_rows(out, "train") + decoded_rows(out, "eval")
    assert all(isinstance(r["follower_count"][0], int) for r in rows if "follower_count" in r)


# ----- several files, Parquet, TFRecord ------------------------------------------------------


def test_glob_reads_every_file_and_unifies_types(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", ["id", "x"], [[1, 1], [2, 2]])
    write_csv(tmp_path / "in" / "b.csv", ["x", "id"], [[0.5, 3]])  # other order, floats
    write_csv(tmp_path / "in" / "c.csv", ["id", "x"], [[4, ""]])  # x empty: no type
    ctx = run_example_gen(tmp_path, input="in/*.csv", splits={"all": 1})
    out = examples(ctx)
    assert len(json.loads(out.properties["input_files"])) == 3
    rows = sorted(decoded_rows(out, "all"), key=lambda r: r["id"])
    assert [r.get("x") for r in rows] == [[1.0], [2.0], [0.5], None]


def test_files_with_different_columns_are_named(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", ["id", "x"], [[1, 1]])
    write_csv(tmp_path / "in" / "b.csv", ["id", "y"], [[2, 2]])
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path, input="in")
    message = str(caught.value)
    assert str(tmp_path / "in" / "a.csv") in message and str(tmp_path / "in" / "b.csv") in message
    assert "'x'" in message and "'y'" in message


def test_numbers_in_one_file_and_text_in_another_are_named(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", ["id", "x"], [[1, 1], [2, 2]])
    write_csv(tmp_path / "in" / "b.csv", ["id", "x"], [[3, "red"], [4, "blue"]])
    with pytest.raises(DataError, match=r"column 'x' holds integers in .*a\.csv but text in "
                                        r".*b\.csv"):
        run_example_gen(tmp_path, input="in/*.csv")


def test_parquet_with_lists_and_nulls(tmp_path: Path) -> None:
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int32()),
        "score": pa.array([0.5, None, 2.0], pa.float64()),
        "name": pa.array(["a", "b", None]),
        "tags": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
        "flag": pa.array([True, False, True]),
    })
    pq.write_table(table, tmp_path / "data.parquet")
    ctx = run_example_gen(tmp_path, input="data.parquet", format="parquet", splits={"all": 1})
    rows = sorted(decoded_rows(examples(ctx), "all"), key=lambda r: r["id"])
    assert rows[0] == {"id": [1], "score": [0.5], "name": [b"a"], "tags": [1, 2], "flag": [1]}
    assert rows[1] == {"id": [2], "name": [b"b"], "tags": [], "flag": [0]}
    assert rows[2] == {"id": [3], "score": [2.0], "flag": [1]}


def test_parquet_column_a_tf_example_cannot_hold_is_named(tmp_path: Path) -> None:
    table = pa.table({"when": pa.array([1, 2], pa.timestamp("s"))})
    pq.write_table(table, tmp_path / "data.parquet")
    with pytest.raises(DataError, match=r"column 'when' has type timestamp\["):
        run_example_gen(tmp_path, input="data.parquet", format="parquet")


def test_tfrecord_input_passes_examples_through(penguin: ExecutionContext,
                                                tmp_path: Path) -> None:
    source = examples(penguin)
    files = layout.examples_files(source, "train") + layout.examples_files(source, "eval")
    records = [r for f in files for r in read_records(Path(f))[0]]
    plain = tmp_path / "in" / "plain.tfrecord"
    plain.parent.mkdir()
    plain.write_bytes(frame(records[:100], record_crcs(records[:100])))
    with gzip.open(tmp_path / "in" / "zipped.tfrecord.gz", "wb") as handle:
        handle.write(frame(records[100:], record_crcs(records[100:])))
    ctx = run_example_gen(tmp_path, input="in", format="tfrecord", partition_feature="species")
    out = examples(ctx)
    written = [r for s in ("train", "eval") for f in layout.examples_files(out, s)
               for r in read_records(Path(f))[0]]
    assert sorted(written) == sorted(records)
    species = {s: {r["species"][0] for r in decoded_rows(out, s)} for s in ("train", "eval")}
    assert not species["train"] & species["eval"]  # partitioned by species


def test_a_file_that_is_not_tfrecord_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.tfrecord").write_bytes(b"definitely not a tfrecord file")
    with pytest.raises(DataError, match=r"bad\.tfrecord is not a TFRecord file"):
        run_example_gen(tmp_path, input="bad.tfrecord", format="tfrecord")


# ----- spans, versions and the fingerprint ---------------------------------------------------


def make_spans(root: Path) -> None:
    for span, version in [(1, 1), (2, 1), (2, 2), (10, 3)]:
        write_csv(root / f"span-{span}" / f"v{version}" / "part-0.csv", ["span", "version"],
                  [[span, version]] * 30)
    write_csv(root / "span-10" / "v3" / "part-1.csv", ["span", "version"], [[10, 3]] * 30)


def test_latest_span_and_version_are_read_by_default(tmp_path: Path) -> None:
    make_spans(tmp_path / "data")
    ctx = run_example_gen(tmp_path, input="data/span-{SPAN}/v{VERSION}/*.csv")
    out = examples(ctx)
    assert (out.properties["span"], out.properties["version"]) == (10, 3)
    assert [Path(f).name for f in json.loads(out.properties["input_files"])] == [
        "part-0.csv", "part-1.csv"]
    assert sum(json.loads(out.properties["split_rows"]).values()) == 60


def test_span_and_version_params_pick_older_data(tmp_path: Path) -> None:
    make_spans(tmp_path / "data")
    pattern = "data/span-{SPAN}/v{VERSION}/*.csv"
    ctx = run_example_gen(tmp_path, input=pattern, span=2, splits={"all": 1})
    assert examples(ctx).properties["version"] == 2
    ctx = run_example_gen(tmp_path / "v1", input=str(tmp_path / pattern), span=2, version=1,
                          splits={"all": 1})
    rows = decoded_rows(examples(ctx), "all")
    assert {(r["span"][0], r["version"][0]) for r in rows} == {(2, 1)}
    with pytest.raises(DataError, match=r"span 3 .* does not exist; the spans found are 1, 2, 10"):
        resolve_files(ExampleGenParams(input=pattern, span=3), tmp_path)


def test_repeated_span_placeholder_must_agree(tmp_path: Path) -> None:
    write_csv(tmp_path / "d" / "1" / "day-1.csv", ["a"], [[1]])
    write_csv(tmp_path / "d" / "2" / "day-3.csv", ["a"], [[1]])  # mismatched: ignored
    files, span, _ = resolve_files(ExampleGenParams(input="d/{SPAN}/day-{SPAN}.csv"), tmp_path)
    assert span == 1 and files == [tmp_path / "d" / "1" / "day-1.csv"]


def test_a_date_in_the_path_names_the_span(tmp_path: Path) -> None:
    """Days since 1970-01-01, as TFX's date specs: ordered, and one per calendar day."""
    from datetime import date

    for day in ("2026-12-05", "2026-12-06", "2026-13-01"):  # the last is not a date
        write_csv(tmp_path / "d" / f"day={day}" / "posts.csv", ["likes"], [[1]] * 20)
    params = ExampleGenParams(input="d/day={YYYY}-{MM}-{DD}/posts.csv")
    assert available_spans(params, tmp_path) == [span_of_date(date(2026, 12, 5)),
                                                 span_of_date(date(2026, 12, 6))]
    files, span, _ = resolve_files(params, tmp_path)
    assert date_of_span(span) == date(2026, 12, 6)
    assert files == [tmp_path / "d" / "day=2026-12-06" / "posts.csv"]
    older = params.model_copy(update={"span": span_of_date(date(2026, 12, 5))})
    assert resolve_files(older, tmp_path)[0] == [tmp_path / "d" / "day=2026-12-05" / "posts.csv"]
    # A day whose files have not landed names the path they are expected at.
    missing = params.model_copy(update={"span": span_of_date(date(2026, 12, 7))})
    with pytest.raises(SpanNotLanded) as caught:  # not a DataError: Airflow retries the task
        resolve_files(missing, tmp_path)
    assert not isinstance(caught.value, DataError)
    assert f"no data for 2026-12-07 (span {span + 1}) yet: expected " \
           f"{tmp_path / 'd' / 'day=2026-12-07' / 'posts.csv'}" in str(caught.value)
    with pytest.raises(DataError, match=r"has both \{SPAN\} and a date"):
        resolve_files(ExampleGenParams(input="d/{SPAN}/{YYYY}.csv"), tmp_path)


def test_nothing_matching_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path, input="missing/span-{SPAN}/*.csv")
    message = str(caught.value)
    assert "'missing/span-{SPAN}/*.csv'" in message and "matches no files" in message
    assert str(tmp_path) in message and "relative to the config" in message


def test_fingerprint_changes_with_the_files_and_only_then(tmp_path: Path) -> None:
    make_spans(tmp_path / "data")
    params = ExampleGenParams(input="data/span-{SPAN}/v{VERSION}/*.csv")
    before = fingerprint(params, tmp_path)
    assert fingerprint(params, tmp_path) == before
    assert fingerprint(ExampleGenParams(input=str(tmp_path / params.input)), tmp_path) == before
    part = tmp_path / "data" / "span-10" / "v3" / "part-1.csv"
    stat = part.stat()
    part.write_text(part.read_text().replace("10,3", "10,4", 1))  # same size, new content
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    changed = fingerprint(params, tmp_path)
    assert changed != before
    write_csv(tmp_path / "data" / "span-1" / "v1" / "more.csv", ["span", "version"], [[1, 1]])
    assert fingerprint(params, tmp_path) == changed  # an older span is not read
    write_csv(tmp_path / "data" / "span-11" / "v1" / "part-0.csv", ["span", "version"], [[1, 1]])
    assert fingerprint(params, tmp_path) != changed  # a new span is


def test_fingerprint_of_missing_input_does_not_raise(tmp_path: Path) -> None:
    params = ExampleGenParams(input="nowhere/*.csv")
    assert fingerprint(params, tmp_path).startswith("unresolved-")


def test_fingerprint_imports_no_heavy_library(tmp_path: Path) -> None:
    make_spans(tmp_path / "data")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from components.example_gen import ExampleGenParams\n"
        "from components.example_gen.spans import fingerprint\n"
        f"print(fingerprint(ExampleGenParams(input='data/span-{{SPAN}}/v{{VERSION}}/*.csv'), "
        f"Path({str(tmp_path)!r})))\n"
        "heavy = [m for m in ('pyarrow', 'numpy', 'tensorflow', 'apache_beam', 'tfx_bsl')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) == 32


def test_many_rows_use_several_shards(tmp_path: Path) -> None:
    from components.example_gen import executor, split_writer

    ids = np.arange(3000)
    write_csv(tmp_path / "data.csv", ["id"], [[int(i)] for i in ids])
    patch = pytest.MonkeyPatch()
    patch.setattr(split_writer, "ROWS_PER_SHARD", 1000)
    patch.setattr(executor, "BATCH_ROWS", 500)
    try:
        ctx = run_example_gen(tmp_path, input="data.csv")
    finally:
        patch.undo()
    out = examples(ctx)
    assert [Path(f).name for f in layout.examples_files(out, "train")] == [
        f"data-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    got = sorted(r["id"][0] for s in ("train", "eval") for r in decoded_rows(out, s))
    assert got == ids.tolist()


def test_split_keys_come_from_values_not_bytes_or_layout(penguin: ExecutionContext,
                                                         tmp_path: Path) -> None:
    """The same row lands in the same split from a CSV with other column order and from the
    TFRecords ExampleGen wrote, though tfx-bsl serializes each Example's features in a
    different order on every call."""
    source = examples(penguin)
    with PENGUIN_CSV.open() as handle:
        rows = list(csv.reader(handle))
    order = [4, 2, 0, 3, 1]
    write_csv(tmp_path / "shuffled.csv", [rows[0][i] for i in order],
              [[row[i] for i in order] for row in rows[1:]])
    from_csv = run_example_gen(tmp_path / "csv", input=str(tmp_path / "shuffled.csv"))
    (tmp_path / "tfr").mkdir()
    for split in ("train", "eval"):
        for i, name in enumerate(layout.examples_files(source, split)):
            (tmp_path / "tfr" / f"{split}-{i}.gz").write_bytes(Path(name).read_bytes())
    from_tfrecord = run_example_gen(tmp_path / "t", input=str(tmp_path / "tfr"),
                                    format="tfrecord")

    def canonical(ctx: ExecutionContext, split: str) -> list[str]:
        return sorted(json.dumps(row, sort_keys=True, default=str)
                      for row in decoded_rows(examples(ctx), split))

    for split in ("train", "eval"):
        assert canonical(from_csv, split) == canonical(penguin, split)
        assert canonical(from_tfrecord, split) == canonical(penguin, split)


def test_cell_keys_depend_on_the_whole_value_only() -> None:
    from components.example_gen.row_hash import cell_keys

    texts = [b"", b"a", b"abcdefgh", b"abcdefghi", b"user_000123_suffix", b"user_000124_suffix",
             b"x" * 300, b"x" * 299 + b"y", b"\x00", b"\x00\x00"]
    keys = cell_keys(pa.array(texts, pa.binary()))
    assert len(set(keys.tolist())) == len(texts)  # differences anywhere in a value count
    # The same values elsewhere in another array (sliced, large type) give the same keys.
    other = pa.array([b"pad", *reversed(texts)], pa.large_binary()).slice(1)
    assert cell_keys(other).tolist() == keys.tolist()[::-1]
    # A column of few distinct values (hashed through its dictionary) keys the same.
    many = pa.array([texts[i % 4] for i in range(5000)], pa.binary())
    assert cell_keys(many).tolist() == [keys[i % 4] for i in range(5000)]
    # A scalar equals a one-element list; nulls and absent values key to 0.
    ints = pa.array([5, None, 7])
    lists = pa.array([[5], None, [7]], pa.large_list(pa.int64()))
    assert cell_keys(ints).tolist() == cell_keys(lists).tolist()
    assert cell_keys(ints)[1] == 0
    assert cell_keys(pa.array([[1, 2]]))[0] != cell_keys(pa.array([[2, 1]]))[0]
    assert cell_keys(pa.array([1], pa.int64()))[0] != cell_keys(pa.array([1.0], pa.float32()))[0]


def test_each_input_file_has_its_own_fingerprint_for_lineage(tmp_path: Path) -> None:
    """One read gives the aggregate the cache knows and each file's own fingerprint."""
    from components.example_gen.executor import _fingerprints
    from pipelines.fingerprint import fingerprint_paths

    files = []
    for index, name in enumerate(["b.csv", "a.csv", "c.csv"]):
        path = tmp_path / f"dir{index}" / name
        path.parent.mkdir()
        path.write_text(f"x\n{index}\n")
        files.append(path)
    total, each = _fingerprints(files)
    assert total == fingerprint_paths(files)
    assert each == {str(f): fingerprint_paths([f]) for f in files}
    assert len(set(each.values())) == 3


# ----- bad files get a message that names the place and what to set ------------------------


def test_bytes_that_are_not_utf8_name_the_line_column_and_encoding(tmp_path: Path) -> None:
    data = tmp_path / "posts.csv"
    rows = "".join(f"post{i},{i}\n" for i in range(30))
    data.write_bytes(("name,likes\n" + rows + "caf\xe9,7\n").encode("latin-1"))
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path / "utf8", input=str(data))
    assert (f"{data}:32: column 'name' has bytes that are not UTF-8 (b'\\xe9'). If the file is "
            "in another encoding, set ExampleGen's `encoding:`") in str(caught.value)
    # Said so, the file reads, and the cell is the word, in UTF-8.
    ctx = run_example_gen(tmp_path / "latin", input=str(data), encoding="latin-1")
    names = {row["name"][0] for split in ("train", "eval")
             for row in decoded_rows(examples(ctx), split)}
    assert "café".encode() in names and len(names) == 31


def test_a_header_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    data = tmp_path / "posts.csv"
    data.write_bytes("n\xe4me,likes\nrex,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"{data}:1: the header has bytes that are not UTF-8"):
        run_example_gen(tmp_path / "out", input=str(data))


def test_a_truncated_gzip_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    whole = gzip.compress(("a,b\n" + "".join(f"{i},x{i}\n" for i in range(3000))).encode())
    data = tmp_path / "part.csv.gz"
    data.write_bytes(whole[: len(whole) // 2])  # a copy cut off half way
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path / "out", input=str(data))
    assert f"{data} is a truncated or corrupt compressed file" in str(caught.value)
    assert "Replace it with a whole copy" in str(caught.value)
    assert not list((tmp_path / "out").rglob("data-*"))


def test_a_row_longer_than_a_parse_block_says_what_to_set(tmp_path: Path) -> None:
    data = tmp_path / "notes.csv"
    cell = "x" * (3 << 20)  # a 3 MiB text cell: three parse blocks
    data.write_text("id,note\n" + "".join(f"{i},short\n" for i in range(20)) + f"99,{cell}\n")
    with pytest.raises(DataError) as caught:
        run_example_gen(tmp_path / "default", input=str(data))
    assert (f"{data}:22: a row of {len(cell) + 4:,} bytes is longer than the CSV parse block "
            "(1,048,576 bytes). Set ExampleGen's `max_row_bytes:` to at least") in str(
                caught.value)
    ctx = run_example_gen(tmp_path / "set", input=str(data), max_row_bytes=4 << 20)
    notes = [row["note"][0] for split in ("train", "eval")
             for row in decoded_rows(examples(ctx), split)]
    assert len(notes) == 21 and cell.encode() in notes
