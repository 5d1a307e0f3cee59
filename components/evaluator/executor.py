"""Evaluator executor: TFMA on the eval split, then the blessing.

The candidate (and the baseline, when MLMD resolved one) are served the raw serialized eval
examples through their serving signature, exactly as TF Serving will call them, in one Beam
pipeline run with the pipeline's beam_args. TFMA computes the metrics per slice and checks the
thresholds; ``blessing.py`` writes its verdict in the layout of ``pipelines.layout``.

With a baseline, both models are also scored on a reference set (``reference.py``) in the same
Beam pipeline, written under ``<evaluation>/reference/``. The blessing needs three judgements:
the thresholds on the eval split, the thresholds on the reference, and the baseline scoring
both alike (within ``reference.tolerance``), since a fixed model scoring them far apart means
the new labels disagree with labels a past gate accepted.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import apache_beam as beam
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.options.pipeline_options import PipelineOptions
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.tfxio import tensor_adapter, tf_example_record

from components.evaluator import EvaluatorParams, label_prediction_cache, tfma_fixes
from components.evaluator.blessing import (
    OVERALL,
    Failure,
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
    ROWS_METRIC,
    build_eval_config,
    has_change_thresholds,
    has_value_thresholds,
    metric_names,
)
from components.evaluator.labels import check_labels, label_is_string, with_class_indices
from components.evaluator.lean_extracts import reads_after_unbatch, with_lean_extracts
from components.evaluator.reference import ReferenceSet, baseline_eval_set, golden_set
from components.example_reader import ReadExamples
from pipelines.sdk import (
    Artifact,
    DataError,
    ExecutionContext,
    ExecutorResult,
    direct_workers,
    layout,
)

REFERENCE_DIR = "reference"  # in the ModelEvaluation: TFMA's output on the reference set


@dataclass(frozen=True)
class NoReference:
    """Why no reference set is judged; ``same_as_eval``: it is the eval split itself."""

    reason: str
    same_as_eval: bool = False


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

    with tempfile.TemporaryDirectory(prefix="lockgate-reference-") as scratch:
        reference = _reference(ctx, params, examples, baseline, schema, Path(scratch))
        runs = [("", files, output.uri)]
        reference_dir = output.path / REFERENCE_DIR
        if isinstance(reference, ReferenceSet):
            runs.append(("Reference", reference.files, str(reference_dir)))
        versus = f" against baseline model {baseline.id}" if baseline is not None else ""
        also = " and on the reference" if len(runs) > 1 else ""
        ctx.log.info("evaluating model %s on %d file(s)%s%s", model.id, len(files), versus, also)
        ctx.progress(0, None, f"TFMA: evaluating on '{params.eval_split}'{versus}{also}")
        started = time.monotonic()
        _run_tfma(ctx, runs, schema, models, eval_config, string_label)
        seconds = time.monotonic() - started

    metrics = read_metrics(output.uri)
    ref_metrics: MetricTable = {}
    scored = [(metrics, layout.split_rows(examples).get(params.eval_split),
               f"the '{params.eval_split}' split of Examples {examples.id}")]
    if isinstance(reference, ReferenceSet):
        ref_metrics = read_metrics(str(reference_dir))
        scored.append((ref_metrics, reference.rows, f"the reference ({reference.name})"))
    for table, rows, data in scored:
        _check_rows_scored(table, rows, data, with_baseline, ctx.beam_args)
    slice_thresholds = _slice_thresholds(params)
    verdict = judge(tfma.load_validation_result(output.uri), metrics, slice_thresholds)
    baseline_id = baseline.id if baseline is not None else None
    write_summary(output.path, metrics, model.id, baseline_id)
    judgements: dict[str, Any] = {"eval": {
        "data": f"'{params.eval_split}' split of Examples {examples.id}",
        "blessed": verdict.blessed, "failures": len(verdict.failures),
        "rows": _rows_scored(metrics),
    }}
    overall = verdict
    if isinstance(reference, ReferenceSet):
        write_summary(reference_dir, ref_metrics, model.id, baseline_id)
        on_reference = judge(tfma.load_validation_result(str(reference_dir)), ref_metrics,
                             slice_thresholds)
        ref_failures = [replace(f, reference=reference.name) for f in on_reference.failures]
        disagreements, compared = _disagreements(params, names, metrics, ref_metrics,
                                                 reference.name)
        overall = Verdict(
            blessed=verdict.blessed and on_reference.blessed and not disagreements,
            failures=[*disagreements, *ref_failures, *verdict.failures],
            rubber_stamped=verdict.rubber_stamped,
        )
        judgements["reference"] = {
            "checked": True, "data": reference.name, "examples_id": reference.examples_id,
            "blessed": on_reference.blessed, "failures": len(ref_failures),
            "metrics": ref_metrics.get(OVERALL, {}),
        }
        judgements["agreement"] = {
            "checked": True, "agree": not disagreements, "tolerance": params.reference.tolerance,
            "metrics": compared,
        }
    else:
        judgements["reference"] = {"checked": False, "reason": reference.reason,
                                   **({"same_as_eval": True} if reference.same_as_eval else {})}
    write_blessing(ctx.outputs["blessing"].path, overall, model.id, baseline_id,
                   _thresholds_json(params), judgements)
    _record_properties(ctx, metrics, overall, model, baseline)
    if isinstance(reference, ReferenceSet):
        _record_reference(ctx, judgements, reference)

    skipped_change = not with_baseline and has_change_thresholds(params)
    return ExecutorResult(
        message=_message(overall, metrics, names, baseline, skipped_change, judgements),
        properties={
            "eval_seconds": round(seconds, 2),
            "blessed": int(overall.blessed),
            "failures": len(overall.failures),
            "reference": reference.name if isinstance(reference, ReferenceSet)
            else reference.reason,
        },
    )


def _reference(
    ctx: ExecutionContext, params: EvaluatorParams, examples: Artifact,
    baseline: Artifact | None, schema: schema_pb2.Schema | None, scratch: Path,
) -> ReferenceSet | NoReference:
    """The reference set to judge on as well, or why there is none (then it is not used)."""
    kind = params.reference.kind
    if baseline is None:
        return NoReference("no baseline: value thresholds on the eval split alone")
    if kind == "none":
        return NoReference("reference kind none: judged on the candidate's eval split alone")
    if kind == "path":
        return golden_set(params.reference, ctx.config_dir, schema, scratch)
    reference_examples = ctx.one("reference_examples")
    found = baseline_eval_set(reference_examples, baseline, params.eval_split)
    if isinstance(found, str):
        return NoReference(found)
    assert reference_examples is not None
    fingerprint = examples.properties.get("fingerprint")
    if examples.id == reference_examples.id or (
        fingerprint and fingerprint == reference_examples.properties.get("fingerprint")
    ):
        return NoReference(f"the reference ({found.name}) is the candidate's own eval split",
                           same_as_eval=True)
    return found


def _check_rows_scored(
    metrics: MetricTable, expected: int | None, data: str, with_baseline: bool,
    beam_args: list[str],
) -> None:
    """Each model must have scored every row of ``data`` (where its Examples recorded how
    many): a verdict on the rows a Beam runner happened to keep is no verdict on the data."""
    if expected is None:
        return
    for column in ("value", "baseline") if with_baseline else ("value",):
        for scored in _row_counts(metrics, column):
            if scored == expected:
                continue
            model = "baseline" if column == "baseline" else "candidate"
            raise DataError(
                f"TFMA scored {scored:,.0f} rows of {data} with the {model} model, but those "
                f"Examples hold {expected:,}: the Beam runner lost or repeated rows, so the "
                "model is not judged and nothing is blessed. Re-run the node; if it happens "
                f"again, report it with the beam_args ({' '.join(beam_args) or 'none'})"
            )


def _row_counts(metrics: MetricTable, column: str) -> list[float]:
    """A model's ExampleCount, once per model output (a multi-output model counts for each);
    [0] when TFMA reported none."""
    overall = metrics.get(OVERALL, {})
    counts = [values.get(column, 0.0) for name, values in overall.items()
              if name == ROWS_METRIC or name.endswith(f"/{ROWS_METRIC}")]
    return counts or [0.0]


def _rows_scored(metrics: MetricTable) -> int:
    return round(_row_counts(metrics, "value")[0])


def _disagreements(
    params: EvaluatorParams, names: list[str], metrics: MetricTable, ref_metrics: MetricTable,
    reference: str,
) -> tuple[list[Failure], dict[str, dict[str, float]]]:
    """The baseline's value of each metric with a change threshold, on the eval split and on
    the reference: a fixed model scoring far apart on the two means their labels disagree."""
    tolerance = params.reference.tolerance
    failures: list[Failure] = []
    compared: dict[str, dict[str, float]] = {}
    on_eval, on_ref = metrics.get(OVERALL, {}), ref_metrics.get(OVERALL, {})
    for name, metric in zip(names, params.metrics, strict=True):
        if not (metric.threshold and metric.threshold.change):
            continue
        for key in [k for k in on_eval if k == name or k.endswith(f"/{name}")]:
            here, there = on_eval[key].get("baseline"), on_ref.get(key, {}).get("baseline")
            if here is None or there is None:
                continue
            difference = here - there
            compared[key] = {"baseline_on_eval": here, "baseline_on_reference": there,
                             "difference": difference}
            if tolerance is not None and not abs(difference) <= tolerance:  # NaN disagrees
                failures.append(Failure(
                    kind="disagreement", metric=key, slice=OVERALL, value=here,
                    reference_value=there, change=difference, bound=tolerance,
                    reference=reference,
                ))
    return failures, compared


def _run_tfma(
    ctx: ExecutionContext,
    runs: list[tuple[str, list[str], str]],
    schema: schema_pb2.Schema | None,
    models: list[tfma.types.EvalSharedModel],
    eval_config: tfma.EvalConfig,
    string_label: bool = False,
) -> None:
    """One Beam pipeline for every (label, files, output path) run: the eval split and the
    reference share the pipeline's start-up and the loaded models."""
    adapter = None
    if schema is not None:  # the Arrow schema and tensors TFMA feeds the model
        source = tf_example_record.TFExampleRecord(
            file_pattern=runs[0][1],
            schema=schema,
            raw_record_column_name=tfma.ARROW_INPUT_COLUMN,
            telemetry_descriptors=["lockgate", "Evaluator"],
        )
        adapter = tensor_adapter.TensorAdapterConfig(
            arrow_schema=source.ArrowSchema(),
            tensor_representations=source.TensorRepresentations(),
        )
    shared = models if len(models) > 1 else models[0]
    ctx.log.info("Beam options: %s", " ".join(ctx.beam_args))
    if tfma_fixes.FIXED:
        ctx.log.info("TFMA's merge of %s fixed (components/evaluator/tfma_fixes.py)",
                     ", ".join(tfma_fixes.FIXED))
    reads = reads_after_unbatch(eval_config, schema)
    if reads is not None:
        ctx.log.info("TFMA unbatches only the features read after it: %s",
                     ", ".join(sorted(reads.features)) or "none")
    options = PipelineOptions(
        [*ctx.beam_args, tfma_fixes.BEAM_PLUGIN, label_prediction_cache.BEAM_PLUGIN])
    with beam.Pipeline(options=options) as pipeline:
        for label, files, output_path in runs:
            extractors = with_lean_extracts(tfma.default_extractors(
                eval_shared_model=shared, eval_config=eval_config, tensor_adapter_config=adapter,
            ), reads)
            if string_label:  # each model's string label -> its class index (labels.py)
                extractors = with_class_indices(extractors)
            _ = (
                pipeline
                | f"Read{label or 'Eval'}Examples" >> ReadExamples(
                    files, schema, tfma.ARROW_INPUT_COLUMN, workers=direct_workers(ctx.beam_args))
                | f"EvaluateAndValidate{label}" >> tfma.ExtractEvaluateAndWriteResults(
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


def _record_reference(
    ctx: ExecutionContext, judgements: dict[str, Any], reference: ReferenceSet
) -> None:
    """Each judgement's outcome on the blessing, and the reference metrics on the evaluation,
    queryable in MLMD."""
    blessing = ctx.outputs["blessing"].properties
    blessing["eval_blessed"] = int(judgements["eval"]["blessed"])
    blessing["reference_blessed"] = int(judgements["reference"]["blessed"])
    blessing["labels_agree"] = int(judgements["agreement"]["agree"])
    blessing["reference"] = reference.name
    if reference.examples_id is not None:
        blessing["reference_examples_id"] = reference.examples_id
    evaluation = ctx.outputs["evaluation"].properties
    for name, values in judgements["reference"]["metrics"].items():
        for column, prefix in (("value", "reference_"), ("baseline", "reference_baseline_")):
            if column in values:
                evaluation[prefix + name] = values[column]


def _message(
    verdict: Verdict, metrics: MetricTable, names: list[str], baseline: Artifact | None,
    skipped_change: bool, judgements: dict[str, Any] | None = None,
) -> str:
    reference = (judgements or {}).get("reference", {"checked": False, "reason": ""})
    # Set on the baseline by resolution when a `lockgate` override chose it (who and why).
    note = baseline.properties.get("baseline_note") if baseline is not None else None
    if not verdict.blessed:
        return verdict.message() + (f"; baseline model {baseline.id}: {note}"
                                    if baseline is not None and note else "")
    overall = metrics.get(OVERALL, {})
    shown = ", ".join(
        f"{name} {overall[name]['value']:.4g}" for name in names
        if "value" in overall.get(name, {})
    )
    if baseline is not None:
        versus = f" vs baseline model {baseline.id}" + (f" ({note})" if note else "")
    elif skipped_change:
        versus = " (no blessed baseline yet: change thresholds not applied)"
    else:
        versus = ""
    text = f"blessed{versus}: {shown} ({OVERALL})"
    if reference["checked"]:
        on_ref = reference["metrics"]
        scores = ", ".join(
            f"{name} {on_ref[name]['value']:.4g} vs baseline {on_ref[name]['baseline']:.4g}"
            for name in names if {"value", "baseline"} <= set(on_ref.get(name, {}))
        )
        text += f"; on the reference ({reference['data']}): {scores}"
        tolerance = (judgements or {})["agreement"]["tolerance"]
        if tolerance is not None:
            text += f"; its labels agree with the eval split's within {tolerance:g}"
    elif reference.get("same_as_eval"):
        text += f"; {reference['reason']}"
    elif baseline is not None:
        text += f"; REFERENCE NOT CHECKED: {reference['reason']}"
    return text


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

