"""BulkInferrer executor: the serving signature over every raw example of a split, in batches.

The model is called exactly as a server calls it (serialized raw tf.Examples into
``serving_default``), so bulk predictions match online ones. Files are read one at a time
(TFRecord framing parsed with numpy); each batch's outputs become columns (an output of shape
[batch, k] becomes ``<name>_0`` ... ``<name>_<k-1>``, so Parquet and CSV share one layout),
beside the key columns decoded from the same records. Rows are written in the order of the
examples files, in chunks, so memory stays bounded by a chunk, not by the split.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import tensorflow as tf
from tfx_bsl.coders import example_coder

from components.bulk_inferrer import ALL_SPLITS, BulkInferrerParams
from components.evaluator.markers import BLESSING
from components.infra_validator.markers import INFRA_BLESSING
from components.tfrecord import TFRecordError, read_records
from components.verdicts import refusal
from pipelines.sdk import Artifact, DataError, ExecutionContext, ExecutorResult, layout

PARQUET_FILE = "predictions.parquet"
CSV_FILE = "predictions.csv"
FLUSH_ROWS = 65_536  # rows buffered before a write: bounded memory, few row groups
MAX_FLAT_WIDTH = 64  # wider outputs stay one list column (JSON text in the CSV)


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, BulkInferrerParams)
    model, examples = _required(ctx, "model"), _required(ctx, "examples")
    if params.require_blessing:
        reason = blessing_problem(ctx, model)
        if reason is not None:
            ctx.log.info("not running model %s: %s", model.id, reason)
            return ExecutorResult(outcome="skipped", message=reason)

    splits = _splits(examples, params.split)
    loaded, signature, input_name = load_signature(model, params.signature_name)
    output = ctx.outputs["inference_result"]
    started = time.monotonic()
    rows: dict[str, int] = {}
    for split in splits:
        ctx.progress(len(rows), len(splits), f"predicting split '{split}'")
        rows[split] = infer_split(
            signature, input_name, layout.examples_files(examples, split),
            layout.split_dir(output, split), params,
        )
        ctx.log.info("split %s: %d predictions", split, rows[split])
    del loaded  # held until here: a signature whose loaded model is collected loses its variables
    seconds = time.monotonic() - started

    layout.set_split_names(output, splits)
    output.properties.update({
        "split_rows": json.dumps(rows), "rows": sum(rows.values()),
        "model_id": model.id or -1, "examples_id": examples.id or -1,
    })
    counts = ", ".join(f"{n} in '{s}'" for s, n in rows.items())
    formats = "Parquet and CSV" if params.output_format == "csv" else "Parquet"
    return ExecutorResult(
        message=f"wrote {sum(rows.values())} predictions of model {model.id} ({counts}) as "
        f"{formats} to {output.uri}",
        properties={"rows": sum(rows.values()), "split_rows": json.dumps(rows),
                    "infer_seconds": round(seconds, 2)},
    )


def blessing_problem(ctx: ExecutionContext, model: Artifact) -> str | None:
    """Why the model may not run (``require_blessing``), or None when it may."""
    blessing = ctx.one("blessing")
    if blessing is None:
        return ("not blessed: no ModelBlessing is wired to this BulkInferrer; wire an "
                "Evaluator's blessing, or set require_blessing: false")
    reason = refusal(BLESSING, blessing, model)
    if reason is not None:
        return f"not blessed: {reason}"
    infra = ctx.one("infra_blessing")
    if infra is not None:
        reason = refusal(INFRA_BLESSING, infra, model)
        if reason is not None:
            return f"not infra blessed: {reason}"
    return None


def load_signature(model: Artifact, name: str) -> tuple[Any, Any, str]:
    """The loaded model, its signature ``name`` and the name of that signature's one string
    input. Keep the loaded model referenced while calling the signature."""
    path = model.path / layout.SERVING_MODEL_DIR
    if not (path / "saved_model.pb").is_file():
        raise DataError(
            f"the Model artifact {model.id} has no serving SavedModel at {path}; re-run the "
            "Trainer that produced it"
        )
    loaded = tf.saved_model.load(str(path))
    if name not in loaded.signatures:
        raise DataError(
            f"model {model.id} has no signature '{name}' (it has "
            f"{', '.join(loaded.signatures) or 'none'}); set signature_name"
        )
    signature = loaded.signatures[name]
    inputs = signature.structured_input_signature[1]
    strings = [key for key, spec in inputs.items() if spec.dtype == tf.string]
    if len(inputs) != 1 or len(strings) != 1:
        raise DataError(
            f"signature '{name}' of model {model.id} takes {sorted(inputs)}; the BulkInferrer "
            "needs one that takes a single string tensor of serialized tf.Examples"
        )
    return loaded, signature, strings[0]


def infer_split(
    signature: Any, input_name: str, files: list[str], out_dir: Path,
    params: BulkInferrerParams,
) -> int:
    """Write the predictions of every example in ``files`` under ``out_dir``; the row count."""
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out_dir, csv=params.output_format == "csv")
    decoder = example_coder.ExamplesToRecordBatchDecoder()
    seen_keys: set[str] = set()
    try:
        for path in files:
            try:
                records, _ = read_records(Path(path))
            except TFRecordError as exc:
                raise DataError(f"{path} is not a valid TFRecord file ({exc})") from exc
            for start in range(0, len(records), params.batch_size):
                chunk = records[start:start + params.batch_size]
                predictions = _call(signature, input_name, chunk)
                keys = _key_columns(decoder.DecodeBatch(chunk), params.key_columns, seen_keys)
                writer.add(_join(keys, predictions))
        if writer.rows == 0:  # an empty split: the model's columns still make the file
            writer.add(_join(_key_columns(None, params.key_columns, seen_keys),
                             _call(signature, input_name, [])))
        missing = [c for c in params.key_columns if c not in seen_keys]
        if missing and writer.rows:
            raise DataError(
                f"key column(s) {', '.join(missing)} appear in no example of {out_dir.name}; "
                "key_columns must name raw features of the examples"
            )
    finally:
        writer.close()
    return writer.rows


def _call(signature: Any, input_name: str, records: list[bytes]) -> dict[str, np.ndarray]:
    outputs = signature(**{input_name: tf.constant(records, dtype=tf.string)})
    arrays = {name: tensor.numpy() for name, tensor in outputs.items()}
    for name, value in arrays.items():
        if value.ndim == 0 or value.shape[0] != len(records):
            raise DataError(
                f"output '{name}' of the signature has shape {list(value.shape)} for "
                f"{len(records)} examples; bulk inference needs one row per example"
            )
    return arrays


def prediction_columns(outputs: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """One column per output, or per output element for outputs of shape [batch, k]."""
    columns: dict[str, pa.Array] = {}
    for name in sorted(outputs):
        value = outputs[name]
        flat = value.reshape(value.shape[0], -1) if value.ndim > 1 else value[:, None]
        if flat.dtype == object:  # strings come back as bytes
            text = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                    for v in flat.ravel()]
            flat = np.array(text, dtype=object).reshape(flat.shape)
        width = flat.shape[1]
        if width == 1:
            columns[name] = pa.array(flat[:, 0])
        elif width <= MAX_FLAT_WIDTH:
            for i in range(width):
                columns[f"{name}_{i}"] = pa.array(flat[:, i])
        else:
            columns[name] = pa.array(list(flat))
    return columns


def _key_columns(
    batch: pa.RecordBatch | None, names: list[str], seen: set[str]
) -> dict[str, pa.Array]:
    """The key features of the batch's examples: a scalar column when every example has
    exactly one value, a list column otherwise; nulls where an example lacks the feature."""
    columns: dict[str, pa.Array] = {}
    for name in names:
        if batch is None:
            columns[name] = pa.nulls(0)
            continue
        index = batch.schema.get_field_index(name)
        if index < 0:
            columns[name] = pa.nulls(batch.num_rows)
            continue
        seen.add(name)
        values = batch.column(index)
        lengths = pc.list_value_length(values)
        if pc.all(pc.equal(lengths, 1)).as_py() in (True, None):
            values = pc.list_element(values, 0)
        if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            with contextlib.suppress(pa.ArrowInvalid):  # not UTF-8: keep the bytes
                values = values.cast(pa.string())
        columns[name] = values
    return columns


def _join(keys: dict[str, pa.Array], outputs: dict[str, np.ndarray]) -> pa.Table:
    predictions = prediction_columns(outputs)
    clash = sorted(set(keys) & set(predictions))
    if clash:
        raise DataError(
            f"key column(s) {', '.join(clash)} have the name of a model output; rename the "
            "feature or the output"
        )
    return pa.table({**keys, **predictions})


class _Writer:
    """Parquet (and CSV) files of one split, written in chunks of ``FLUSH_ROWS``."""

    def __init__(self, directory: Path, csv: bool) -> None:
        self.directory = directory
        self.csv = csv
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._schema: pa.Schema | None = None

    def add(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self.rows += table.num_rows
        if self._pending_rows >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending, promote=True)
        self._pending, self._pending_rows = [], 0
        if self._schema is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(str(self.directory / PARQUET_FILE), self._schema)
            if self.csv:
                self._csv = pacsv.CSVWriter(str(self.directory / CSV_FILE),
                                            _csv_table(table).schema)
        try:
            table = table.select(self._schema.names).cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as exc:
            raise DataError(
                f"the columns changed type between batches ({exc}); a key column holding one "
                "value in some examples and several in others cannot share a column"
            ) from exc
        assert self._parquet is not None
        self._parquet.write_table(table)
        if self._csv is not None:
            self._csv.write_table(_csv_table(table))

    def close(self) -> None:
        try:
            self._flush()
        finally:
            if self._parquet is not None:
                self._parquet.close()
            if self._csv is not None:
                self._csv.close()


def _csv_table(table: pa.Table) -> pa.Table:
    """CSV has no lists: list columns become JSON text."""
    columns = []
    for column in table.columns:
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pa.array([None if v is None else json.dumps(v) for v in column.to_pylist()],
                              pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _splits(examples: Artifact, wanted: str) -> list[str]:
    available = layout.split_names(examples)
    if wanted == ALL_SPLITS:
        if not available:
            raise DataError(f"the Examples artifact {examples.id} has no splits")
        return available
    if wanted not in available:
        raise DataError(
            f"the Examples artifact {examples.id} has no split '{wanted}' (it has "
            f"{', '.join(available) or 'none'}); set the BulkInferrer's split, or '*' for all"
        )
    return [wanted]


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"BulkInferrer needs its '{name}' input, but none was resolved")
    return artifact
