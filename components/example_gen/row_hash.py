"""Deterministic 64-bit keys of rows and cells, computed column-wise from Arrow data.

Splits cannot hash the serialized tf.Examples as TFX does: tfx-bsl writes each Example's
feature map in hash-table order, which changes from call to call, so the same row would
serialize (and split) differently on every run. Keys come from the values instead:

- a cell is a list of values (a scalar is a list of one), keyed by its values, their positions
  and its length; int, float and bytes values of equal bits key differently;
- an empty cell (missing feature) contributes nothing, so a null column and an absent feature
  give the same key, whether the row came from CSV, Parquet or TFRecord;
- a row's key is the wrapping sum of its cells' keys, each salted with the column name, so
  column order does not matter.

Everything is numpy over whole columns; only byte strings over 256 bytes are hashed one by one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.tfrecord import crc32c

_U = np.uint64
_KIND_SALT = {"int": _U(0x243F6A8885A308D3), "float": _U(0x13198A2E03707344),
              "bytes": _U(0xA4093822299F31D0)}
_POSITION = _U(0x9E3779B97F4A7C15)
_LENGTH = _U(0xC2B2AE3D27D4EB4F)
_MASK64 = (1 << 64) - 1
_LONG = 256
_SAMPLE = 1024
_WORD_PRIME = _U(0x100000001B3)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on uint64s: every input bit moves every output bit."""
    x = x + _U(0x9E3779B97F4A7C15)
    x ^= x >> _U(30)
    x *= _U(0xBF58476D1CE4E5B9)
    x ^= x >> _U(27)
    x *= _U(0x94D049BB133111EB)
    x ^= x >> _U(31)
    return x


def row_keys(batch: pa.RecordBatch) -> np.ndarray:
    """One key per row from all of its cells."""
    keys = np.zeros(batch.num_rows, dtype=np.uint64)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        keys += cell_keys(column, salt=(crc32c(name.encode()) * int(_POSITION)) & _MASK64)
    return keys


def cell_keys(column: pa.Array, salt: int = 0) -> np.ndarray:
    """One key per cell, ``mix(sum of its position-salted value keys + length * L + salt)``;
    0 for an empty cell. The value at position 0 enters unsalted, so a scalar and a list of
    one equal value key alike."""
    n = len(column)
    if pa.types.is_null(column.type) or column.null_count == n:
        return np.zeros(n, dtype=np.uint64)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
        values = _value_keys(column.flatten())
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        positions = np.arange(len(values), dtype=np.int64) - np.repeat(starts[:-1], lengths)
        salted = np.where(positions == 0, values,
                          mix(values ^ (positions.astype(np.uint64) * _POSITION)))
        summed = np.zeros(len(values) + 1, dtype=np.uint64)
        np.cumsum(salted, out=summed[1:])
        sums = summed[starts[1:]] - summed[starts[:-1]]
        keys = mix(sums + lengths.astype(np.uint64) * _LENGTH + _U(salt))
    else:
        keys = mix(_value_keys(column) + _U((int(_LENGTH) + salt) & _MASK64))
    keys[keys == 0] = 1  # 0 is reserved for empty cells
    if column.null_count:
        keys[column.is_null().to_numpy(zero_copy_only=False)] = 0
    return keys


def _value_keys(values: pa.Array) -> np.ndarray:
    """A key per value (nulls get an arbitrary key; callers mask them)."""
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        view: type[np.unsignedinteger]
        if pa.types.is_integer(kind):
            values, view, salt = values.cast(pa.int64()), np.uint64, _KIND_SALT["int"]
        else:
            values, view, salt = values.cast(pa.float32(), safe=False), np.uint32, \
                _KIND_SALT["float"]
        if values.null_count:
            values = values.fill_null(0)
        raw = values.to_numpy(zero_copy_only=False).view(view).astype(np.uint64)
        return mix(raw ^ salt)
    return _bytes_keys(values)


def _bytes_keys(values: pa.Array) -> np.ndarray:
    """A key per byte string. A column with few distinct values (judged on a sample) hashes
    its dictionary and looks the keys up, which measured 4x faster for categories like breed;
    one with many hashes every value."""
    if len(values) >= 4 * _SAMPLE:
        sample = pc.dictionary_encode(values.slice(0, _SAMPLE))
        if len(sample.dictionary) <= _SAMPLE // 8:
            encoded = pc.dictionary_encode(values)
            indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
            return _word_keys(encoded.dictionary)[indices]
    return _word_keys(values)


def _word_keys(values: pa.Array) -> np.ndarray:
    """A key per byte string, from its length and 8-byte words: word k of every string is
    read at once (from 8 shifted uint64 views of the data) and mixed in, so the work is
    numpy passes over the data rather than a Python call per string. Strings longer than
    ``_LONG`` bytes are hashed one by one instead, so one huge cell cannot cost a pass each
    8 bytes."""
    n = len(values)
    wide = pa.types.is_large_binary(values.type) or pa.types.is_large_string(values.type)
    raw_offsets = np.frombuffer(values.buffers()[1], dtype=np.int64 if wide else np.int32)
    offsets: np.ndarray = raw_offsets[values.offset:values.offset + n + 1].astype(np.int64)
    starts, lengths = offsets[:-1], np.diff(offsets)
    data_buffer = values.buffers()[2]
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    keys = (lengths.astype(np.uint64) * _WORD_PRIME) ^ _KIND_SALT["bytes"]
    if n == 0 or not lengths.any():
        return mix(keys)
    low, high = int(starts.min()), int(offsets[-1])
    words = (high - low + 7) // 8 + 1
    padded = np.zeros(words * 8 + 8, dtype=np.uint8)
    padded[:high - low] = data[low:high]
    shifted = np.stack([padded[r:r + words * 8].view("<u8") for r in range(8)])
    short = lengths <= _LONG
    count = np.where(short, (lengths + 7) // 8, 0)
    # Longest first, so the strings still going at word k are a prefix: slices, not masks.
    order = np.argsort(-count, kind="stable")
    starts_by, lengths_by, count_by = starts[order] - low, lengths[order], count[order]
    acc = keys[order]
    for k in range(int(count_by[0]) if n else 0):
        active = int(np.searchsorted(-count_by, -k, side="left"))  # rows with count > k
        at = starts_by[:active] + 8 * k
        word = shifted[at % 8, at // 8]
        left = lengths_by[:active] - 8 * k
        partial = left < 8  # a string's last word: keep only its own bytes
        word[partial] &= (np.uint64(1) << (8 * left[partial]).astype(np.uint64)) - np.uint64(1)
        acc[:active] = (acc[:active] ^ word) * _WORD_PRIME  # FNV-style; mixed at the end
    keys[order] = mix(acc)
    for row in np.flatnonzero(~short).tolist():
        start = int(starts[row])
        value = data[start:start + int(lengths[row])].tobytes()
        keys[row] = mix(keys[row:row + 1] ^ np.uint64(crc32c(value)))[0]
    return keys
