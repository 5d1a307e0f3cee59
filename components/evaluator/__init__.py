"""Evaluator: TFMA metrics, slices and thresholds; blesses a model only when all of them hold."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pipelines.sdk import ComponentSpec, InputSpec, Params


class ChangeThreshold(Params):
    """Compared with the baseline (the latest blessed model). Skipped on the first run."""

    direction: Literal["higher_is_better", "lower_is_better"]
    absolute: float = Field(
        0.0, description="How far the metric may move the wrong way, e.g. -0.01 or 0."
    )


class MetricThreshold(Params):
    lower: float | None = None
    upper: float | None = None
    change: ChangeThreshold | None = None
    slices: list[list[str]] | None = Field(
        None,
        description="Apply the threshold on these slices (feature-key lists) as well as overall; "
        "`[[country]]` checks every country.",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> MetricThreshold:
        if self.lower is None and self.upper is None and self.change is None:
            raise ValueError("a threshold needs `lower`, `upper` or `change`")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(
                f"`lower` ({self.lower}) is above `upper` ({self.upper}): no model could pass"
            )
        return self


class MetricConfig(Params):
    class_name: str = Field(description="A TFMA or Keras metric class, e.g. MeanPrediction.")
    module: str | None = Field(None, description="Module of a custom metric class.")
    config: dict[str, Any] = Field(default_factory=dict)
    threshold: MetricThreshold | None = None


class Reference(Params):
    """A second data set every judgement with a baseline is also made on, so that a new span's
    labels are never the only judge: corrupted labels make the baseline look bad on them."""

    kind: Literal["baseline_eval", "path", "none"] = Field(
        "baseline_eval",
        description="baseline_eval: the eval split the baseline model was blessed on; path: "
        "a curated golden data set; none: judge on the candidate's eval split alone.",
    )
    path: str | None = Field(
        None, description="kind path: a file, folder or glob, relative to the config."
    )
    format: Literal["csv", "tfrecord"] = Field(
        "csv", description="kind path: CSV with a header, or (gzipped) TFRecords of tf.Examples."
    )
    tolerance: float | None = Field(
        0.05, ge=0,
        description="How far the baseline's value of a metric with a change threshold may "
        "differ between the candidate's eval split and the reference before the new labels "
        "are called inconsistent with the reference (which refuses the blessing); null: "
        "never.",
    )

    @model_validator(mode="after")
    def _path_iff_kind_path(self) -> Reference:
        if self.kind == "path" and not self.path:
            raise ValueError("reference `kind: path` needs `path`")
        if self.kind != "path" and self.path:
            raise ValueError(f"reference `path` is read only with `kind: path`, not {self.kind}")
        return self


def _overall_only() -> list[list[str]]:
    return [[]]


class EvaluatorParams(Params):
    label_key: str = Field(description="The label feature in the raw examples.")
    prediction_key: str | None = Field(
        None, description="The model output to evaluate, when the signature returns several."
    )
    signature_name: str = Field(
        "serving_default", description="Signature taking serialized raw tf.Examples."
    )
    eval_split: str = Field("eval", description="The split of the examples to evaluate on.")
    baseline: Literal["latest_blessed", "none"] = Field(
        "latest_blessed",
        description="What change thresholds compare with: the latest blessed model, or none "
        "(value thresholds alone, as on a first run). The Evaluator refuses to compare a "
        "candidate whose classes (the Trainer's label_vocabulary) differ from the baseline's; "
        "set `none` for the one run that introduces the new class set.",
    )
    reference: Reference = Field(
        default_factory=Reference,
        description="With a baseline, the candidate and the baseline are also scored on this "
        "reference set, and the blessing needs every threshold to hold there too.",
    )
    metrics: list[MetricConfig] = Field(min_length=1)
    slices: list[list[str]] = Field(
        default_factory=_overall_only,
        description="Feature-key lists to slice by; [] is the overall slice.",
    )
    plots: bool = Field(
        True,
        description="For a classifier, also compute the evaluation page's plots (confusion "
        "matrices, ROC and precision-recall curves, calibration). No threshold reads them. "
        "They cost about a fifth of the Evaluator's time on a big eval split; false skips "
        "them, and the page shows the metrics alone.",
    )

    @model_validator(mode="after")
    def _needs_a_threshold(self) -> EvaluatorParams:
        # TFX blesses every model when no threshold is set; we refuse the config instead.
        if not any(metric.threshold for metric in self.metrics):
            raise ValueError(
                "no metric has a `threshold`, so no model could ever be judged; add one, e.g. "
                "threshold: {lower: 0.6} on an accuracy metric"
            )
        return self


SPEC = ComponentSpec(
    name="Evaluator",
    version="1",
    params=EvaluatorParams,
    inputs={
        "examples": InputSpec("Examples", prefer_component="ExampleGen"),
        "model": InputSpec("Model"),
        "baseline_model": InputSpec("Model", optional=True, resolver="latest_blessed_model"),
        "schema": InputSpec("Schema", optional=True),
        "reference_examples": InputSpec("Examples", optional=True, resolver="baseline_examples"),
    },
    outputs={"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"},
    executor="components.evaluator.executor:run",
    external_fingerprint="components.evaluator.reference:fingerprint",
    description="Evaluates the model with TFMA and decides its blessing.",
    checks="components.evaluator.checks:check",
)
