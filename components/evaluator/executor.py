"""Evaluator executor: TFMA on the eval split, then the blessing.

The candidate (and the baseline, when MLMD resolved one) are served the raw serialized eval
examples through their serving signature, exactly as TF Serving will call them, in one Beam
pipeline run with the pipeline's beam_args. TFMA computes the metrics per slice and checks the
thresholds; ``blessing.py`` writes its verdict in the layout of ``pipelines.layout``.
"""

from __future__ import annotations

import time

import apache_beam as beam
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.options.pipeline_options import PipelineOptions
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.tfxio import tensor_adapter, tf_example_record

from components.evaluator import EvaluatorParams
from components.evaluator.blessing import (
    OVERALL,
    MetricTable,
    Verdict,
    judge,
    read_metrics,
    spec_name,
    write_blessing,
    write_summary,
)
from components.evaluator.eval_config import (
    BASELINE,
    CANDIDATE,
    build_eval_config,
    has_change_thresholds,
    has_value_thresholds,
    metric_names,
)
from components.evaluator.labels import check_labels, label_is_string, with_class_indices
from components.example_reader import ReadExamples
from pipelines.sdk import Artifact, DataError, ExecutionContext, ExecutorResult, layout


def run(ctx: ExecutionContext) -> ExecutorResult:
    params = ctx.params
    assert isinstance(params, EvaluatorParams)
    examples, model = _required(ctx, "examples"), _required(ctx, "model")
    baseline = ctx.one("baseline_model") if params.baseline == "latest_blessed" else None
    schema = _load_schema(ctx.one("schema"))
    files = _eval_files(examples, params.eval_split)
    names = metric_names(params)  # fails fast on a misspelt metric, before loading models
    _check_features(params, schema, files)
    string_label = label_is_string(params.label_key, schema, files)
    check_labels(params.label_key, string_label, model, baseline)

    with_baseline = baseline is not None
    eval_config = build_eval_config(params, with_baseline)
    # Only change thresholds and no baseline yet: no threshold applies, which TFMA would call
    # a failure. As in TFX, such a first model is blessed ("rubber stamped").
    rubber_stamp = not with_baseline and not has_value_thresholds(params)
    models = [_shared_model(model, eval_config, CANDIDATE, rubber_stamp)]
    if baseline is not None:
        models.append(_shared_model(baseline, eval_config, BASELINE, False))
    output = ctx.outputs["evaluation"]

    versus = f" against baseline model {baseline.id}" if baseline is not None else ""
    ctx.log.info("evaluating model %s on %d file(s)%s", model.id, len(files), versus)
    ctx.progress(0, None, f"TFMA: evaluating on '{params.eval_split}'{versus}")
    started = time.monotonic()
    _run_tfma(ctx, files, schema, models, eval_config, output.uri, string_label)
    seconds = time.monotonic() - started

    metrics = read_metrics(output.uri)
    verdict = judge(tfma.load_validation_result(output.uri), metrics, _slice_thresholds(params))
    baseline_id = baseline.id if baseline is not None else None
    write_summary(output.path, metrics, model.id, baseline_id)
    write_blessing(ctx.outputs["blessing"].path, verdict, model.id, baseline_id,
                   _thresholds_json(params))
    _record_properties(ctx, metrics, verdict, model, baseline)

    skipped_change = not with_baseline and has_change_thresholds(params)
    return ExecutorResult(
        message=_message(verdict, metrics, names, baseline, skipped_change),
        properties={
            "eval_seconds": round(seconds, 2),
            "blessed": int(verdict.blessed),
            "failures": len(verdict.failures),
        },
    )


def _run_tfma(
    ctx: ExecutionContext,
    files: list[str],
    schema: schema_pb2.Schema | None,
    models: list[tfma.types.EvalSharedModel],
    eval_config: tfma.EvalConfig,
    output_path: str,
    string_label: bool = False,
) -> None:
    adapter = None
    if schema is not None:  # the Arrow schema and tensors TFMA feeds the model
        source = tf_example_record.TFExampleRecord(
            file_pattern=files,
            schema=schema,
            raw_record_column_name=tfma.ARROW_INPUT_COLUMN,
            telemetry_descriptors=["lockgate", "Evaluator"],
        )
        adapter = tensor_adapter.TensorAdapterConfig(
            arrow_schema=source.ArrowSchema(),
            tensor_representations=source.TensorRepresentations(),
        )
    shared = models if len(models) > 1 else models[0]
    extractors = None
    if string_label:  # each model's string label -> its class index (labels.py)
        extractors = with_class_indices(tfma.default_extractors(
            eval_shared_model=shared, eval_config=eval_config, tensor_adapter_config=adapter
        ))
    ctx.log.info("Beam options: %s", " ".join(ctx.beam_args))
    with beam.Pipeline(options=PipelineOptions(ctx.beam_args)) as pipeline:
        _ = (
            pipeline
            | "ReadEvalExamples" >> ReadExamples(files, schema, tfma.ARROW_INPUT_COLUMN)
            | "EvaluateAndValidate" >> tfma.ExtractEvaluateAndWriteResults(
                eval_shared_model=shared,
                eval_config=eval_config,
                extractors=extractors,
                output_path=output_path,
                tensor_adapter_config=adapter,
                schema=schema,
            )
        )


def _shared_model(
    artifact: Artifact, eval_config: tfma.EvalConfig, name: str, rubber_stamp: bool
) -> tfma.types.EvalSharedModel:
    path = artifact.path / layout.SERVING_MODEL_DIR
    if not (path / "saved_model.pb").is_file():
        raise DataError(
            f"the {name} Model artifact {artifact.id} has no serving SavedModel at {path}; "
            "re-run the Trainer that produced it"
        )
    return tfma.default_eval_shared_model(
        eval_saved_model_path=str(path),
        eval_config=eval_config,
        model_name=name,
        rubber_stamp=rubber_stamp,
    )


def _check_features(
    params: EvaluatorParams, schema: schema_pb2.Schema | None, files: list[str]
) -> None:
    """The label and every slicing feature must exist, or TFMA fails far from the cause."""
    known = (
        {feature.name for feature in schema.feature} if schema is not None
        else _first_example_features(files)
    )
    wanted = {"label_key": [params.label_key]}
    for keys in params.slices:
        wanted.setdefault("slices", []).extend(keys)
    for metric in params.metrics:
        if metric.threshold and metric.threshold.slices:
            for keys in metric.threshold.slices:
                wanted.setdefault(f"{metric.class_name}.threshold.slices", []).extend(keys)
    missing = [
        f"{where}: '{name}'" for where, names in wanted.items() for name in dict.fromkeys(names)
        if name not in known
    ]
    if missing:
        raise DataError(
            "Evaluator params name features the eval examples do not have; use one of "
            f"{sorted(known)}",
            count=len(missing), examples=missing,
        )


def _first_example_features(files: list[str]) -> set[str]:
    dataset = tf.data.TFRecordDataset(files[:1], compression_type="GZIP").take(1)
    for record in dataset:
        return set(tf.train.Example.FromString(record.numpy()).features.feature)
    return set()


def _slice_thresholds(params: EvaluatorParams) -> dict[str, list[str]]:
    """Slicing spec name -> the metrics with a threshold on it."""
    needs: dict[str, list[str]] = {}
    for metric in params.metrics:
        if metric.threshold:
            for keys in [[], *(metric.threshold.slices or [])]:
                name = spec_name(tfma.SlicingSpec(feature_keys=keys))
                needs.setdefault(name, []).append(metric.class_name)
    return needs


def _thresholds_json(params: EvaluatorParams) -> list[dict[str, object]]:
    return [
        {"metric": m.class_name, **m.threshold.model_dump(exclude_none=True)}
        for m in params.metrics if m.threshold
    ]


def _record_properties(
    ctx: ExecutionContext, metrics: MetricTable, verdict: Verdict, model: Artifact,
    baseline: Artifact | None,
) -> None:
    blessing = ctx.outputs["blessing"].properties
    blessing["blessed"] = int(verdict.blessed)
    if model.id is not None:
        blessing["model_id"] = model.id
    blessing["baseline_model_id"] = baseline.id if baseline and baseline.id is not None else -1
    evaluation = ctx.outputs["evaluation"].properties
    for name, values in metrics.get(OVERALL, {}).items():
        if "value" in values:  # the candidate's overall metrics, queryable in MLMD
            evaluation[name] = values["value"]


def _message(
    verdict: Verdict, metrics: MetricTable, names: list[str], baseline: Artifact | None,
    skipped_change: bool,
) -> str:
    if not verdict.blessed:
        return verdict.message()
    overall = metrics.get(OVERALL, {})
    shown = ", ".join(
        f"{name} {overall[name]['value']:.4g}" for name in names
        if "value" in overall.get(name, {})
    )
    if baseline is not None:
        versus = f" vs baseline model {baseline.id}"
    elif skipped_change:
        versus = " (no blessed baseline yet: change thresholds not applied)"
    else:
        versus = ""
    return f"blessed{versus}: {shown} ({OVERALL})"


def _load_schema(artifact: Artifact | None) -> schema_pb2.Schema | None:
    if artifact is None:
        return None
    path = artifact.path / layout.SCHEMA_FILE
    if not path.is_file():
        raise DataError(f"the Schema artifact has no {layout.SCHEMA_FILE}: expected {path}")
    return text_format.Parse(path.read_text(), schema_pb2.Schema())


def _eval_files(examples: Artifact, split: str) -> list[str]:
    files = layout.examples_files(examples, split)
    if not files:
        raise DataError(
            f"the Examples have no files for split '{split}' (expected "
            f"{layout.split_dir(examples, split) / layout.EXAMPLES_GLOB}); their splits "
            f"are {layout.split_names(examples)}: set the Evaluator's eval_split"
        )
    return files


def _required(ctx: ExecutionContext, name: str) -> Artifact:
    artifact = ctx.one(name)
    if artifact is None:
        raise DataError(f"Evaluator needs its '{name}' input, but none was resolved")
    return artifact

