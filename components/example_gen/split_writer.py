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

    def work(batch: Batch) -> tuple[list[bytes], list[int]]:
        encoded = batch()
        which = assign_splits(encoded.keys, weights)
        members, sizes = [], []
        for index in range(len(names)):
            chosen = np.flatnonzero(which == index)
            members.append(gzip_member(encoded.records[chosen], encoded.crcs[chosen], GZIP_LEVEL)
                           if len(chosen) else b"")
            sizes.append(len(chosen))
        return members, sizes

    files = _ShardFiles(out_dir, names, shards)
    results = _in_order(work, batches)
    try:
        files.open(0)  # split files exist even when a split gets no rows
        for number, (members, sizes) in enumerate(results):
            files.open(number * shards // len(batches))
            for name, member, size in zip(names, members, sizes, strict=True):
                files.write(name, member)
                counts[name] += size
            done += sum(sizes)
            progress(done)
    finally:
        results.close()
        files.close()
    return counts


def _in_order(
    work: Callable[[Batch], tuple[list[bytes], list[int]]], batches: Sequence[Batch]
) -> Generator[tuple[list[bytes], list[int]], None, None]:
    """``work`` over the batches on a thread per core, results in batch order, with a bounded
    number of batches in flight so memory stays flat."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="example-gen")
    pending: deque[Future[tuple[list[bytes], list[int]]]] = deque()
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
    """The open file of each split for the current shard."""

    def __init__(self, out_dir: Path, names: list[str], shards: int) -> None:
        self._dirs = {name: out_dir / f"{layout.SPLIT_PREFIX}{name}" for name in names}
        for path in self._dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        self._shards = shards
        self._shard = -1
        self._open: dict[str, tuple[BinaryIO, list[int]]] = {}

    def open(self, shard: int) -> None:
        if shard == self._shard:
            return
        self.close()
        self._shard = shard
        for name, path in self._dirs.items():
            file = (path / f"data-{shard:05d}-of-{self._shards:05d}.tfrecord.gz").open("xb")
            self._open[name] = (file, [0])

    def write(self, name: str, member: bytes) -> None:
        file, written = self._open[name]
        file.write(member)
        written[0] += len(member)

    def close(self) -> None:
        for file, written in self._open.values():
            if not written[0]:  # an empty gzip file, not a zero-byte one, for every reader
                file.write(gzip_member([], np.zeros(0, dtype=np.uint32), GZIP_LEVEL))
            file.close()
        self._open = {}
