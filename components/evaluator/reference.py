"""The Evaluator's reference set: data whose labels do not come from the new span.

Scored on the new span's eval split alone, corrupted labels (every row one class, two classes
swapped) make the serving model look bad and a model trained on them look good, so a change
threshold blesses it. With a baseline, the candidate and the baseline are therefore scored on a
reference set as well, and every threshold must hold there too:

- ``baseline_eval`` (the default): the eval split of the Examples the baseline model was
  blessed on (the framework's ``baseline_examples`` resolver). It moves forward only when a
  model is blessed, so a refused span never becomes the next run's reference.
- ``path``: a curated golden data set (CSV with a header, or TFRecords of tf.Examples) that
  only its author changes; its files are part of the cache key (``fingerprint``).

Cheap to import: ``fingerprint`` runs before every cache lookup. TensorFlow is imported only
to write a CSV golden set as tf.Examples.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.evaluator import EvaluatorParams, Reference
from pipelines.sdk import Artifact, DataError, config_path, layout

if TYPE_CHECKING:
    from tensorflow_metadata.proto.v0 import schema_pb2


@dataclass(frozen=True)
class ReferenceSet:
    """The reference files to evaluate on, and how messages name them."""

    files: list[str]
    name: str
    examples_id: int | None = None
    rows: int | None = None  # as its Examples recorded them; None when unknown


def golden_files(reference: Reference, config_dir: Path) -> list[Path]:
    """A ``kind: path`` reference's files: the file, a folder's visible files, or a glob."""
    assert reference.path is not None
    path = config_path(config_dir, reference.path)
    if glob.has_magic(str(path)):
        found = [Path(p) for p in sorted(glob.glob(str(path), recursive=True))]
    elif path.is_dir():
        found = sorted(p for p in path.iterdir() if not p.name.startswith((".", "_")))
    else:
        found = [path] if path.exists() else []
    return [p for p in found if p.is_file()]


def fingerprint(params: EvaluatorParams, config_dir: Path) -> str:
    """A golden set's files (path, size, mtime) for the cache key; "" for other kinds, whose
    reference is an MLMD input and in the key already."""
    if params.reference.kind != "path":
        return ""
    stats = [[str(p), p.stat().st_size, p.stat().st_mtime_ns]
             for p in golden_files(params.reference, config_dir)]
    return hashlib.blake2b(json.dumps(stats).encode(), digest_size=16).hexdigest()


def baseline_eval_set(
    reference_examples: Artifact | None, baseline: Artifact, split: str
) -> ReferenceSet | str:
    """The eval split the baseline was blessed on, or why there is none."""
    if reference_examples is None:
        return (f"no Examples are recorded for the blessing of baseline model {baseline.id} "
                "(blessed by hand, or its Examples were deleted)")
    files = layout.examples_files(reference_examples, split)
    if not files:
        return (f"the Examples {reference_examples.id} baseline model {baseline.id} was "
                f"blessed on have no '{split}' split")
    span = reference_examples.properties.get("span")
    of_span = f", span {span}" if span is not None else ""
    return ReferenceSet(
        files, f"'{split}' split of Examples {reference_examples.id}{of_span}, which baseline "
        f"model {baseline.id} was blessed on", reference_examples.id,
        layout.split_rows(reference_examples).get(split),
    )


def golden_set(
    reference: Reference, config_dir: Path, schema: schema_pb2.Schema | None, scratch: Path
) -> ReferenceSet:
    """A golden set's files; a CSV one is written as gzipped tf.Examples under ``scratch``."""
    files = golden_files(reference, config_dir)
    if not files:
        raise DataError(f"the Evaluator's reference path '{reference.path}' matches no files "
                        f"(looked for {config_path(config_dir, reference.path or '')})")
    name = f"golden set {reference.path}"
    if reference.format == "tfrecord":
        return ReferenceSet([str(p) for p in files], name)
    out = scratch / "golden.tfrecord.gz"
    rows = write_csv_examples(files, schema, out)
    if rows == 0:
        raise DataError(f"the Evaluator's reference {reference.path} has no rows")
    return ReferenceSet([str(out)], f"{name}, {rows} rows", rows=rows)


def write_csv_examples(files: list[Path], schema: schema_pb2.Schema | None, out: Path) -> int:
    """CSV rows as tf.Examples typed by ``schema`` (else by each column's cells); an empty cell
    is an absent feature, as ExampleGen writes it. Returns the row count."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import schema_pb2

    kinds: dict[str, str] = {}
    if schema is not None:
        names = {schema_pb2.INT: "int", schema_pb2.FLOAT: "float", schema_pb2.BYTES: "bytes"}
        kinds = {f.name: names.get(f.type, "bytes") for f in schema.feature}
    rows = 0
    with tf.io.TFRecordWriter(str(out), options="GZIP") as writer:
        for path in files:
            with path.open(newline="") as handle:
                table = list(csv.DictReader(handle))
            columns = list(table[0]) if table else []
            typed = {c: kinds.get(c) or ("" if kinds else _infer([r[c] for r in table]))
                     for c in columns}
            for line, row in enumerate(table, start=2):
                features = {}
                for column, kind in typed.items():
                    cell = row.get(column)
                    if kind and cell not in (None, ""):
                        features[column] = _feature(tf, kind, cell, path, line, column)
                writer.write(tf.train.Example(
                    features=tf.train.Features(feature=features)).SerializeToString())
                rows += 1
    return rows


def _infer(cells: list[str]) -> str:
    present = [c for c in cells if c != ""]
    for kind, parse in (("int", int), ("float", float)):
        try:
            for cell in present:
                parse(cell)
        except ValueError:
            continue
        return kind
    return "bytes"


def _feature(tf: Any, kind: str, cell: str, path: Path, line: int, column: str) -> Any:
    try:
        if kind == "int":
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(float(cell))]))
        if kind == "float":
            return tf.train.Feature(float_list=tf.train.FloatList(value=[float(cell)]))
    except ValueError as exc:
        raise DataError(f"{path}:{line}: the reference's '{column}' is {kind} in the schema, "
                        f"but the cell is {cell!r}") from exc
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[cell.encode()]))
