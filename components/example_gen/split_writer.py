"""Hash-split serialized tf.Examples and write them as sharded, gzipped TFRecord files.

Split assignment is deterministic: a row's 64-bit key (``row_hash``: of the whole row, or of
its partition feature's value) lands in the bucket ``key % sum(weights)``; with
{train: 2, eval: 1}, buckets 0-1 are train and 2 eval. The same row therefore always lands in
the same split, whatever the file or format it came in.

Batches are encoded, split, framed and gzipped on a thread per core (tfx-bsl's encoder and
zlib release the GIL), each into one gzip member per split. The main thread appends the members
in batch order: a file of concatenated gzip members is one valid gzip file, which tf.data and
Beam's TFRecord reader both read whole. So the output does not depend on the core count, and
small inputs use every core too. Shard files hold consecutive runs of batches.

Rows that came as Arrow columns (CSV, Parquet) are also written as a columnar copy beside each
shard (``components.example_columns``), in the same order, for the readers that decode.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from components import example_columns
from components.tfrecord import GZIP_LEVEL, gzip_member
from pipelines.sdk import layout

ROWS_PER_SHARD = 500_000
MAX_SHARDS = 64


@dataclass
class Encoded:
    """A batch of rows ready to write: serialized Examples, their CRC-32C, and split keys."""

    records: np.ndarray  # object array of bytes
    crcs: np.ndarray  # uint32
    keys: np.ndarray  # uint64, from row_hash
    columns: pa.RecordBatch | None = None  # the rows before encoding, for the columnar copy


Batch = Callable[[], Encoded]  # produces its rows when a worker thread gets to it


def assign_splits(keys: np.ndarray, weights: Sequence[int]) -> np.ndarray:
    """The split index of each key, by hash bucket."""
    bounds = np.cumsum(np.asarray(weights, dtype=np.uint64))
    return np.searchsorted(bounds, keys % bounds[-1], side="right")


def shard_count(rows: int, batches: int) -> int:
    return max(1, min(MAX_SHARDS, batches, math.ceil(rows / ROWS_PER_SHARD)))


def write_splits(
    out_dir: Path,
    splits: dict[str, int],
    batches: Sequence[Batch],
    rows: int,
    progress: Callable[[int], None],
) -> dict[str, int]:
    """Write every batch's rows into ``<out_dir>/Split-<name>/data-SSSSS-of-NNNNN.tfrecord.gz``
    and return the row count of each split. ``progress`` gets the rows written so far."""
    names, weights = list(splits), list(splits.values())
    shards = shard_count(rows, len(batches))
    counts = dict.fromkeys(names, 0)
    done = 0

    def work(batch: Batch) -> _Written:
        encoded = batch()
        which = assign_splits(encoded.keys, weights)
        columns = encoded.columns
        copy = columns is not None and example_columns.copyable(columns)
        written = _Written([], [], [] if copy else None)
        for index in range(len(names)):
            chosen = np.flatnonzero(which == index)
            written.members.append(
                gzip_member(encoded.records[chosen], encoded.crcs[chosen], GZIP_LEVEL)
                if len(chosen) else b"")
            written.sizes.append(len(chosen))
            if written.columns is not None and columns is not None:
                written.columns.append(columns.take(pa.array(chosen)))
        return written

    files = _ShardFiles(out_dir, names, shards)
    results = _in_order(work, batches)
    try:
        files.open(0)  # split files exist even when a split gets no rows
        for number, written in enumerate(results):
            files.open(number * shards // len(batches))
            for index, name in enumerate(names):
                files.write(name, written.members[index],
                            None if written.columns is None else written.columns[index])
                counts[name] += written.sizes[index]
            done += sum(written.sizes)
            progress(done)
    finally:
        results.close()
        files.close()
    return counts


@dataclass
class _Written:
    """One batch's rows for each split: gzip member, row count and (or None) Arrow rows."""

    members: list[bytes]
    sizes: list[int]
    columns: list[pa.RecordBatch] | None


def _in_order(
    work: Callable[[Batch], _Written], batches: Sequence[Batch]
) -> Generator[_Written, None, None]:
    """``work`` over the batches on a thread per core, results in batch order, with a bounded
    number of batches in flight so memory stays flat."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="example-gen")
    pending: deque[Future[_Written]] = deque()
    upcoming = iter(batches)
    try:
        for batch in upcoming:
            pending.append(pool.submit(work, batch))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _ShardFiles:
    """The open files of each split for the current shard: records, and the columnar copy.

    Copies are all or nothing: the first batch without columns (or not copyable) removes the
    copies written so far and stops them, so a reader never finds some shards copied."""

    def __init__(self, out_dir: Path, names: list[str], shards: int) -> None:
        self._dirs = {name: out_dir / f"{layout.SPLIT_PREFIX}{name}" for name in names}
        for path in self._dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self._shards = shards
        self._shard = -1
        self._open: dict[str, tuple[BinaryIO, list[int]]] = {}
        self._copying = True
        self._copies: dict[str, example_columns.CopyWriter] = {}

    def _records_path(self, name: str, shard: int) -> Path:
        return self._dirs[name] / f"data-{shard:05d}-of-{self._shards:05d}.tfrecord.gz"

    def open(self, shard: int) -> None:
        if shard == self._shard:
            return
        self.close()
        self._shard = shard
        for name in self._dirs:
            self._open[name] = (self._records_path(name, shard).open("xb"), [0])

    def write(self, name: str, member: bytes, columns: pa.RecordBatch | None) -> None:
        file, written = self._open[name]
        file.write(member)
        written[0] += len(member)
        if columns is None:
            self._stop_copying()
        elif self._copying:
            if name not in self._copies:
                path = example_columns.copy_path(self._records_path(name, self._shard))
                self._copies[name] = example_columns.CopyWriter(path, columns.schema)
            self._copies[name].write(columns)

    def _stop_copying(self) -> None:
        if not self._copying:
            return
        self._copying = False
        for writer in self._copies.values():
            writer.close()
        self._copies = {}
        for path in self._dirs.values():
            for copy in path.glob(f"*{example_columns.SUFFIX}"):
                copy.unlink()

    def close(self) -> None:
        for file, written in self._open.values():
            if not written[0]:  # an empty gzip file, not a zero-byte one, for every reader
                file.write(gzip_member([], np.zeros(0, dtype=np.uint32), GZIP_LEVEL))
            file.close()
        self._open = {}
        for writer in self._copies.values():
            writer.close()
        self._copies = {}
