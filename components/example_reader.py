"""Read Examples files into Arrow RecordBatches inside a Beam pipeline, one file per element.

tfx-bsl's ``TFExampleRecord.BeamSource()`` emits every serialized example as its own Beam
element and batches them afterwards, so the runner encodes and decodes each of a million
records between stages. Here a file is the unit of work: one worker reads it (its TFRecord
framing parsed with numpy, checksums verified) and decodes it with tfx-bsl's own decoder in
batches, so only whole RecordBatches cross stage boundaries. The batches are the same as
``BeamSource()``'s: same decoder, same Arrow schema, same raw record column. Measured on
667k pupdates rows, StatisticsGen in-memory: 18.9 s with ``BeamSource()``, 11.9 s with this.

Files are read whole. ExampleGen caps a shard at 500k rows, so a worker holds one shard's
bytes at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders import example_coder
from tfx_bsl.tfxio import record_based_tfxio

from components.tfrecord import TFRecordError, read_records
from pipelines.sdk import DataError

BATCH_ROWS = 8192  # 8192 and 65536 measured the same for TFDV; smaller keeps TFMA's peaks low


class ReadExamples(beam.PTransform):
    """``files`` of serialized tf.Examples as a PCollection of ``pa.RecordBatch``.

    With ``schema``, features decode to the schema's types (as Transform and TFMA need);
    without, types are inferred, so an unknown column still shows up (as TFDV needs).
    ``raw_record_column`` adds each example's serialized bytes as a column (TFMA's input).
    """

    def __init__(
        self,
        files: Sequence[str],
        schema: schema_pb2.Schema | None = None,
        raw_record_column: str | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        super().__init__()
        if not files:
            raise ValueError("ReadExamples needs at least one file")
        self._files = list(files)
        self._decode = _DecodeFile(schema, raw_record_column, batch_rows)

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "Files" >> beam.Create(self._files)
            # Without it a runner may read every file in the worker that holds the Create.
            | "Spread" >> beam.Reshuffle()
            | "Decode" >> beam.ParDo(self._decode)
        )


class _DecodeFile(beam.DoFn):
    def __init__(
        self, schema: schema_pb2.Schema | None, raw_record_column: str | None, batch_rows: int
    ) -> None:
        # Serialized: the decoder takes bytes, and a proto pickles less portably.
        self._schema = schema.SerializeToString() if schema is not None else None
        self._raw_record_column = raw_record_column
        self._batch_rows = batch_rows
        self._decoder: example_coder.ExamplesToRecordBatchDecoder | None = None

    def setup(self) -> None:
        self._decoder = (
            example_coder.ExamplesToRecordBatchDecoder(self._schema)
            if self._schema is not None else example_coder.ExamplesToRecordBatchDecoder()
        )

    def process(self, path: str) -> Iterator[pa.RecordBatch]:
        assert self._decoder is not None, "setup() runs before process()"
        try:
            records, _ = read_records(Path(path))
        except TFRecordError as exc:
            raise DataError(
                f"{path} is not a valid TFRecord file ({exc}); re-run the component that "
                "wrote it"
            ) from exc
        for start in range(0, len(records), self._batch_rows):
            chunk = records[start:start + self._batch_rows]
            batch = self._decoder.DecodeBatch(chunk)
            if self._raw_record_column is not None:
                batch = record_based_tfxio.AppendRawRecordColumn(
                    batch, self._raw_record_column, chunk
                )
            yield batch
