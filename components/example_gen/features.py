"""Arrow tables as tf.Example features: type normalisation, one schema across files, encoding.

A tf.Example feature is an int64, float (32-bit) or bytes list. Every column is normalised to
one of those (or a list of them, from Parquet), so the Examples of a run agree on each feature's
kind. A null cell becomes an absent feature, not an empty one: rows are encoded in groups that
share the same null cells, each group with only its present columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.sdk import DataError

INT = pa.int64()
FLOAT = pa.float32()
BYTES = pa.binary()
_KINDS = {INT: "int", FLOAT: "float", BYTES: "bytes"}


def normalise(table: pa.Table, file: Path) -> pa.Table:
    """``table`` with every column as int64, float32, binary, a large list of one of those,
    or null (all cells empty)."""
    columns = [_normalise_column(table.column(i), name, file)
               for i, name in enumerate(table.column_names)]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _normalise_column(column: pa.ChunkedArray, name: str, file: Path) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_null(kind):
        return column
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        value = _scalar_kind(kind.value_type)
        if value is not None:
            return _cast(column, pa.large_list(value), name, file)
    else:
        scalar = _scalar_kind(kind)
        if scalar is not None:
            return _cast(column, scalar, name, file)
    raise DataError(
        f"ExampleGen: {file}: column {name!r} has type {kind}, which a tf.Example cannot hold "
        f"(only integers, floats, strings and lists of them). Convert it to a number or a "
        f"string where the file is written."
    )


def _scalar_kind(kind: pa.DataType) -> pa.DataType | None:
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return INT
    if pa.types.is_floating(kind):
        return FLOAT
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind)):
        return BYTES
    return None


def _cast(column: pa.ChunkedArray, kind: pa.DataType, name: str, file: Path) -> pa.ChunkedArray:
    if column.type == kind:
        return column
    try:
        # float64 -> float32 is what tf.Example stores; rounding there is expected.
        return column.cast(kind, safe=not kind.equals(FLOAT) and kind != pa.large_list(FLOAT))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"ExampleGen: {file}: column {name!r} ({column.type}) does not fit a tf.Example "
            f"{kind} feature: {exc}. Fix the values where the file is written."
        ) from exc


def unify(tables: Sequence[tuple[Path, pa.Table]]) -> list[pa.Table]:
    """The tables with one column order and one type per column.

    Every file must have the same columns. An all-empty column takes the type it has in the
    other files; int and float mix to float; numbers and text do not mix.
    """
    first_file, first = tables[0]
    names = first.column_names
    for file, table in tables[1:]:
        missing = [n for n in names if n not in table.column_names]
        extra = [n for n in table.column_names if n not in names]
        if missing or extra:
            what = "; ".join(filter(None, [
                f"it lacks {', '.join(map(repr, missing))}" if missing else "",
                f"it has {', '.join(map(repr, extra))} which the other lacks" if extra else "",
            ]))
            raise DataError(
                f"ExampleGen: {file} and {first_file} have different columns: {what}. Every "
                f"file of one input must have the same header; fix the file or narrow the "
                f"input pattern to files of one layout."
            )
    targets = {name: _common_type(name, [(f, t.column(name).type) for f, t in tables])
               for name in names}
    out = []
    for _, table in tables:
        columns = [table.column(n) if table.column(n).type == targets[n]
                   else table.column(n).cast(targets[n]) for n in names]
        out.append(pa.Table.from_arrays(columns, names=names))
    return out


def _common_type(name: str, kinds: list[tuple[Path, pa.DataType]]) -> pa.DataType:
    typed = [(f, k) for f, k in kinds if not pa.types.is_null(k)]
    if not typed:
        return pa.null()
    distinct = {k for _, k in typed}
    if len(distinct) == 1:
        return distinct.pop()
    if distinct == {INT, FLOAT}:
        return FLOAT
    if distinct == {pa.large_list(INT), pa.large_list(FLOAT)}:
        return pa.large_list(FLOAT)
    (file_a, kind_a), (file_b, kind_b) = typed[0], next((f, k) for f, k in typed
                                                        if k != typed[0][1])
    raise DataError(
        f"ExampleGen: column {name!r} holds {describe(kind_a)} in {file_a} but "
        f"{describe(kind_b)} in {file_b}. A feature needs one type in every file: fix the "
        f"file, or force the type with column_types: {{{name}: string}}."
    )


def describe(kind: pa.DataType) -> str:
    if pa.types.is_large_list(kind):
        return f"lists of {describe(kind.value_type)}"
    return {"int": "integers", "float": "floats", "bytes": "text"}.get(_KINDS.get(kind, ""),
                                                                      str(kind))


class Encoder:
    """Record batches of normalised columns to serialized tf.Examples (tfx-bsl, in C++; it
    releases the GIL, so several threads encode at once)."""

    def __init__(self) -> None:
        from tfx_bsl.coders.example_coder import RecordBatchToExamplesEncoder

        self._encoder = RecordBatchToExamplesEncoder()
        self._offsets = pa.array(np.arange(0, 1, dtype=np.int64))

    def encode(self, batch: pa.RecordBatch) -> np.ndarray:
        """One serialized tf.Example per row, as an object array of bytes."""
        n = batch.num_rows
        nullable = [i for i, column in enumerate(batch.columns) if column.null_count]
        if not nullable:
            return _objects(self._encode_dense(batch), n)
        nulls = np.column_stack(
            [batch.column(i).is_null().to_numpy(zero_copy_only=False) for i in nullable]
        )
        patterns, group = np.unique(np.packbits(nulls, axis=1), axis=0, return_inverse=True)
        group = group.ravel()
        out = np.empty(n, dtype=object)
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(len(patterns) + 1))
        for g in range(len(patterns)):
            rows = order[bounds[g]:bounds[g + 1]]
            absent = {nullable[j] for j in np.flatnonzero(nulls[rows[0]])}
            present = [i for i in range(batch.num_columns) if i not in absent]
            if present:
                sub = pa.RecordBatch.from_arrays(
                    [batch.column(i) for i in present], [batch.schema.names[i] for i in present]
                ).take(pa.array(rows))
                out[rows] = _objects(self._encode_dense(sub), len(rows))
            else:
                out[rows] = _objects([b""] * len(rows), len(rows))  # an Example with no features
        return out

    def _encode_dense(self, batch: pa.RecordBatch) -> list[bytes]:
        """Encode a batch without nulls: scalars become one-element lists."""
        n = batch.num_rows
        if len(self._offsets) < n + 1:
            self._offsets = pa.array(np.arange(n + 1, dtype=np.int64))
        offsets = self._offsets.slice(0, n + 1)
        arrays = [
            column if pa.types.is_large_list(column.type)
            else pa.LargeListArray.from_arrays(offsets, column)
            for column in batch.columns
        ]
        return list(self._encoder.encode(pa.RecordBatch.from_arrays(arrays, batch.schema.names)))


def _objects(items: Sequence[bytes], n: int) -> np.ndarray:
    return np.fromiter(items, dtype=object, count=n)
