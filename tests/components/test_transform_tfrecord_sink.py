"""Transform's sink against TensorFlow's own gzip TFRecord reader, which must read every file
it writes: batches as gzip members, empty batches (an empty gzip member would end the file for
TensorFlow), and a split with no rows at all."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest


def _write(tmp_path: Path, batches: list[pa.RecordBatch]) -> tuple[list[Path], int]:
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from tensorflow_metadata.proto.v0 import schema_pb2

    from components.transform.tfrecord_sink import WriteTransformed

    schema = schema_pb2.Schema()
    schema.feature.add(name="x", type=schema_pb2.FLOAT)
    counter = beam.metrics.Metrics.counter("test", "rows")
    pipeline = beam.Pipeline()
    data = pipeline | "Batches" >> beam.Create([(b, None) for b in batches])
    metadata = SimpleNamespace(
        deferred_metadata=pipeline | "Metadata" >> beam.Create([SimpleNamespace(schema=schema)]))
    _ = (data, metadata) | WriteTransformed(str(tmp_path / "data"), counter)
    result = pipeline.run()
    result.wait_until_finish()
    [count] = result.metrics().query(MetricsFilter().with_name("rows"))["counters"] or [None]
    return sorted(tmp_path.glob("data-*.tfrecord.gz")), count.committed if count else 0


def _batch(values: list[float]) -> pa.RecordBatch:
    offsets = pa.array(np.arange(len(values) + 1), pa.int32())
    column = pa.ListArray.from_arrays(offsets, pa.array(values, pa.float32()))
    return pa.RecordBatch.from_arrays([column], ["x"])


def _read_with_tensorflow(files: list[Path]) -> list[float]:
    import tensorflow as tf

    spec = {"x": tf.io.FixedLenFeature([], tf.float32)}
    return [float(tf.io.parse_single_example(record, spec)["x"])
            for record in tf.data.TFRecordDataset([str(f) for f in files], "GZIP")]


def test_every_batch_is_read_back_in_order_past_an_empty_one(tmp_path: Path) -> None:
    from components.tfrecord import read_records

    batches = [_batch([1.0, 2.0, 3.0]), _batch([]), _batch([4.0, 5.0])]
    files, counted = _write(tmp_path, batches)
    assert files
    assert sorted(_read_with_tensorflow(files)) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sum(len(read_records(f)[0]) for f in files) == 5
    assert counted == 5


def test_a_split_with_no_rows_is_a_gzip_file_of_no_records(tmp_path: Path) -> None:
    from components.tfrecord import read_records

    files, counted = _write(tmp_path, [])
    assert files, "Beam writes a shard even for no elements"
    assert all(f.read_bytes().startswith(b"\x1f\x8b") for f in files)  # gzip, as ExampleGen's
    assert _read_with_tensorflow(files) == []
    assert all(read_records(f)[0] == [] for f in files)
    assert counted == 0


@pytest.mark.parametrize("rows", [1, 9000])
def test_one_batch_round_trips(tmp_path: Path, rows: int) -> None:
    values = [float(i) for i in range(rows)]
    files, _ = _write(tmp_path, [_batch(values)])
    assert _read_with_tensorflow(files) == values
