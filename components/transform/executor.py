"""Transform executor: analyze the chosen splits with the author's preprocessing_fn and transform
every split, in one Beam pipeline, with tf.Transform.

Writes the tf.Transform output (the transform graph the Trainer bakes into the serving model)
and the transformed examples in the Examples layout of ``pipelines.layout``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import metadata_io
from tfx_bsl.public import tfxio

from components.example_reader import ReadExamples
from components.transform import TransformParams
from components.transform.tfrecord_sink import WriteTransformed
from pipelines.sdk import (
    Artifact,
    DataError,
    ExecutionContext,
    ExecutorResult,
    UserCodeError,
    UserFunction,
    direct_workers,
    layout,
    load_user_function,
)

_METRICS_NAMESPACE = "lockgate.transform"
_TEMP_DIR = ".tft-tmp"  # inside the staging output, so every Beam worker can reach it


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, TransformParams)
    _required(ctx, "examples")
    window = ctx.inputs["examples"]  # one Examples artifact per span of the window
    schema_artifact = _required(ctx, "schema")
    schema = load_schema(Path(schema_artifact.uri) / layout.SCHEMA_FILE)

    available = [s for s in layout.split_names(window[-1])
                 if all(s in layout.split_names(e) for e in window)]
    analyze_splits = _check_splits("analyze_splits", params.analyze_splits, available)
    transform_splits = _check_splits(
        "transform_splits", params.transform_splits or available, available
    )
    files = {s: [f for examples in window for f in _split_files(examples, s)]
             for s in {*analyze_splits, *transform_splits}}
    if len(window) > 1:
        ctx.log.info("span window: %s", ", ".join(
            f"span {e.properties.get('span')} (Examples {e.id})" for e in window))

    preprocessing_fn = load_user_function(ctx, params.module_file, params.preprocessing_fn)
    graph_out = ctx.outputs["transform_graph"]
    examples_out = ctx.outputs["transformed_examples"]
    temp_dir = Path(graph_out.uri) / _TEMP_DIR

    ctx.log.info("analyzing %s, transforming %s", analyze_splits, transform_splits)
    ctx.progress(0, None, f"tf.Transform: analyzing {', '.join(analyze_splits)}")
    try:
        rows = _run_pipeline(ctx, preprocessing_fn, schema, files, analyze_splits,
                             transform_splits, graph_out, examples_out, temp_dir)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)

    _check_every_row_written(window, rows, ctx.beam_args)
    layout.set_split_names(examples_out, transform_splits)
    examples_out.properties["split_rows"] = json.dumps(rows)
    examples_out.properties["spans"] = json.dumps([e.properties.get("span") for e in window])
    graph_out.properties["analyze_splits"] = json.dumps(analyze_splits)
    summary = ", ".join(f"{split}: {count}" for split, count in rows.items())
    spans = f" of spans {', '.join(str(e.properties.get('span')) for e in window)}" if len(
        window) > 1 else ""
    return ExecutorResult(
        message=f"transformed rows {summary}{spans}",
        properties={"split_rows": json.dumps(rows)},
    )


def load_schema(path: Path) -> schema_pb2.Schema:
    if not path.is_file():
        raise DataError(f"the Schema artifact has no {path.name}: expected {path}")
    return text_format.Parse(path.read_text(), schema_pb2.Schema())


def _run_pipeline(
    ctx: ExecutionContext,
    preprocessing_fn: UserFunction,
    schema: schema_pb2.Schema,
    files: dict[str, list[str]],
    analyze_splits: list[str],
    transform_splits: list[str],
    graph_out: Artifact,
    examples_out: Artifact,
    temp_dir: Path,
) -> dict[str, int]:
    """Build and run the Beam pipeline; returns the number of rows written per split.

    An analysed split is read twice, once for the analysis and once for its transform, so no
    PCollection has two consumers. With one read feeding both, the DirectRunner's two workers
    lost rows of the train split: 21,761 to 65,536 of 666,796 numeric rows in three of three
    `lockgate run`s (2026-12-07), and 28% at 10M rows; read twice, none in three. The second
    read also spares the runner holding the split until the analysis ends: on 1M numeric
    rows, one read took 38.6 s and 3.9 GB at peak, two reads 45.0 s and 2.9 GB.
    """
    # Every split is parsed with the same schema, so they share one tensor adapter config.
    adapter_config = tfxio.TFExampleRecord(
        file_pattern=next(iter(files.values())), schema=schema,
        telemetry_descriptors=["lockgate", "Transform"],
    ).TensorAdapterConfig()
    ctx.log.info("Beam options: %s", " ".join(ctx.beam_args))
    pipeline = beam.Pipeline(options=PipelineOptions(ctx.beam_args))
    workers = direct_workers(ctx.beam_args)
    reads: dict[str, int] = {}  # reads so far per split

    def read(split: str) -> beam.PCollection:
        """The split's examples, from a read of their own each time."""
        again = reads.get(split, 0)
        reads[split] = again + 1
        if again:
            ctx.log.info("reading split %s again to transform it", split)
        stage = f"Read{'Again' if again else ''}[{split}]"
        return pipeline | stage >> ReadExamples(files[split], schema, workers=workers)

    with tft_beam.Context(temp_dir=str(temp_dir)):
        analyze_data = [read(s) for s in analyze_splits] | "FlattenAnalyzeSplits" >> beam.Flatten()
        try:
            # tf.Transform traces preprocessing_fn here, while the pipeline is being built.
            transform_fn = (analyze_data, adapter_config) | "Analyze" >> tft_beam.AnalyzeDataset(
                _WithFeatureHints(preprocessing_fn)
            )
        except UserCodeError:
            raise
        except Exception as exc:  # e.g. preprocessing_fn returned something TFT cannot use
            raise UserCodeError(preprocessing_fn.node, preprocessing_fn.module, exc) from exc
        _ = transform_fn | "WriteTransformFn" >> tft_beam.WriteTransformFn(graph_out.uri)

        for split in transform_splits:
            out_dir = layout.split_dir(examples_out, split)
            out_dir.mkdir(parents=True, exist_ok=True)
            counter = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, _rows_metric(split))
            transformed = ((read(split), adapter_config), transform_fn) | (
                f"Transform[{split}]" >> tft_beam.TransformDataset(output_record_batches=True)
            )
            _ = transformed | f"Write[{split}]" >> WriteTransformed(
                str(out_dir / "data"), counter)
    result = pipeline.run()
    result.wait_until_finish()
    # The raw schema beside the graph: the Trainer parses serving requests with it.
    metadata_io.write_metadata(
        tft.DatasetMetadata(schema),
        str(Path(graph_out.uri) / tft.TFTransformOutput.RAW_METADATA_DIR),
    )
    return {split: _counter_value(result, _rows_metric(split)) for split in transform_splits}


class _RawFeatures(dict[str, Any]):
    """The preprocessing_fn's inputs: asking for a missing feature names the ones that exist."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"{key!r} is not a feature of the input schema, which has {sorted(self)}")


@dataclass(frozen=True)
class _WithFeatureHints:
    """preprocessing_fn, given inputs whose missing keys name the features that exist.

    A class rather than a closure: tf.Transform pickles preprocessing_fn into Beam workers.
    """

    fn: UserFunction

    def __call__(self, inputs: dict[str, Any]) -> Any:
        return self.fn(_RawFeatures(inputs))


def _rows_metric(split: str) -> str:
    return f"rows[{split}]"


def _counter_value(result: beam.runners.runner.PipelineResult, name: str) -> int:
    found = result.metrics().query(
        MetricsFilter().with_namespace(_METRICS_NAMESPACE).with_name(name)
    )["counters"]
    # Committed counts where the runner reports them; attempted ones (may count retries) else.
    return int(sum((c.committed if c.committed is not None else c.attempted) for c in found))


def _check_every_row_written(
    window: list[Artifact], written: dict[str, int], beam_args: list[str]
) -> None:
    """Each split's transformed rows must be its input rows (where the inputs recorded them):
    a runner that drops or repeats rows would otherwise train a model on the wrong data."""
    for split, rows in written.items():
        expected = layout.window_split_rows(window, split)
        if expected is None or rows == expected:
            continue
        raise DataError(
            f"Transform wrote {rows:,} rows of split '{split}', but its input Examples "
            f"({', '.join(str(e.id) for e in window)}) hold {expected:,}: the Beam runner "
            f"lost or repeated rows, so nothing is published. Re-run the node; if it happens "
            f"again, report it with the beam_args ({' '.join(beam_args) or 'none'})"
        )


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"Transform needs its '{name}' input, but none was resolved")
    return artifact


def _check_splits(param: str, wanted: list[str], available: list[str]) -> list[str]:
    if not wanted:
        raise DataError(f"Transform's {param} is empty; the Examples have splits {available}")
    missing = [s for s in wanted if s not in available]
    if missing:
        raise DataError(
            f"Transform's {param} {wanted} names splits the input Examples do not have "
            f"({missing}); the Examples have splits {available}: set {param} to some of them"
        )
    return list(wanted)


def _split_files(examples: Artifact, split: str) -> list[str]:
    files = layout.examples_files(examples, split)
    if not files:
        raise DataError(
            f"split '{split}' of the input Examples has no data files: expected "
            f"{layout.split_dir(examples, split) / layout.EXAMPLES_GLOB}"
        )
    return files
