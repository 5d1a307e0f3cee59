"""Penguin inputs built straight from the CSV, independently of the ExampleGen and SchemaGen
executors, for the tests of the components that consume them (Transform, Trainer, Evaluator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.component import Artifact, ExecutionContext
from pipelines.sdk import layout
from tests.helpers import REPO, executor_context

PENGUIN_CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
PENGUIN_PREPROCESSING = REPO / "examples" / "penguin" / "preprocessing.py"
FEATURES = ["culmen_length_mm", "culmen_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"

PENGUIN_SCHEMA = "\n".join(
    [f'feature {{ name: "{LABEL}" type: INT {{shape}} {{presence}} }}']
    + [f'feature {{ name: "{name}" type: FLOAT {{shape}} {{presence}} }}' for name in FEATURES]
).replace("{shape}", "shape { dim { size: 1 } }").replace(
    "{presence}", "presence { min_fraction: 1.0 min_count: 1 }"
)


def penguin_table() -> pa.Table:
    types = {name: pa.float32() for name in FEATURES} | {LABEL: pa.int64()}
    return pacsv.read_csv(PENGUIN_CSV, convert_options=pacsv.ConvertOptions(column_types=types))


def serialized_examples(table: pa.Table) -> list[bytes]:
    """tf.Examples of ``table``'s rows, one value per feature, as ExampleGen writes them."""
    from tfx_bsl.coders import example_coder

    offsets = pa.array(np.arange(table.num_rows + 1), pa.int32())
    batch = pa.RecordBatch.from_arrays(
        [pa.ListArray.from_arrays(offsets, col.combine_chunks()) for col in table.columns],
        table.column_names,
    )
    return list(example_coder.RecordBatchToExamplesEncoder().encode(batch))


def penguin_inputs(root: Path) -> tuple[Artifact, Artifact]:
    """An Examples artifact (every third row in eval, the rest in train) and its Schema."""
    import tensorflow as tf

    table = penguin_table()
    is_eval = np.arange(table.num_rows) % 3 == 2
    examples = Artifact(type="Examples", uri=str(root / "examples"))
    rows = {}
    for split, mask in (("train", ~is_eval), ("eval", is_eval)):
        split_dir = layout.split_dir(examples, split)
        split_dir.mkdir(parents=True)
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(str(split_dir / "data-00000.tfrecord.gz"), options) as out:
            for record in serialized_examples(table.filter(pa.array(mask))):
                out.write(record)
        rows[split] = int(mask.sum())
    layout.set_split_names(examples, ["train", "eval"])
    examples.properties["split_rows"] = json.dumps(rows)

    schema = Artifact(type="Schema", uri=str(root / "schema"))
    schema.path.mkdir(parents=True)
    (schema.path / layout.SCHEMA_FILE).write_text(PENGUIN_SCHEMA)
    return examples, schema


def run_transform(
    tmp_path: Path,
    inputs: tuple[Artifact, Artifact],
    module_file: Path,
    beam_args: list[str] | None = None,
    **params: object,
) -> ExecutionContext:
    from components.transform.executor import run

    examples, schema = inputs
    ctx = executor_context(
        "Transform", tmp_path, params={"module_file": str(module_file), **params},
        inputs={"examples": [examples], "schema": [schema]},
    )
    ctx.beam_args = beam_args or ctx.beam_args
    run(ctx)
    return ctx


def read_examples(files: list[str], feature_spec: dict[str, object]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1000)
    batches = [tf.io.parse_example(b, feature_spec) for b in dataset]
    return {k: np.concatenate([b[k].numpy() for b in batches]) for k in feature_spec}
