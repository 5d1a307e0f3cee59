"""Two custom steps: a per-split label summary (a new artifact type, ``LabelSummary``) and a
gate that halts the run when a class is too rare to learn.

Only ``pipelines.sdk`` is imported at module level: the DAG processor imports this module on
every parse. TensorFlow is imported inside the executor that needs it.
"""

from __future__ import annotations

import json

from pydantic import Field

from penguin_steps.counting import shares
from pipelines.sdk import (
    DataError,
    ExecutionContext,
    ExecutorResult,
    InputSpec,
    Params,
    component,
    layout,
)

SUMMARY_FILE = "label_summary.json"


class SummaryParams(Params):
    label_key: str = Field(description="The integer label column.")


@component(
    params=SummaryParams,
    inputs={"examples": "Examples"},
    outputs={"summary": "LabelSummary"},
    version="1",
)
def split_summary(ctx: ExecutionContext) -> ExecutorResult:
    """Count each label's share per split."""
    import tensorflow as tf

    params = ctx.params
    assert isinstance(params, SummaryParams)
    [examples] = ctx.inputs["examples"]
    summary: dict[str, dict[str, float]] = {}
    for split in layout.split_names(examples):
        labels = []
        files = layout.examples_files(examples, split)
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            feature = example.features.feature.get(params.label_key)
            if feature is None:
                raise DataError(f"split {split} has an example without '{params.label_key}'")
            labels.extend(feature.int64_list.value)
        summary[split] = shares(labels)
    out = ctx.outputs["summary"]
    (out.path / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    out.properties["splits"] = len(summary)
    return ExecutorResult(message=f"summarised {len(summary)} splits")


class GateParams(Params):
    min_share: float = Field(0.05, ge=0.0, le=1.0, description="Smallest share a class may have.")


@component(
    name="ClassBalanceGate",
    params=GateParams,
    inputs={
        "summary": InputSpec("LabelSummary"),
        "previous": InputSpec("LabelSummary", optional=True, resolver="previous_span"),
    },
    outputs={"verdict": "BalanceVerdict"},
    may_halt=True,
)
def class_balance_gate(ctx: ExecutionContext) -> ExecutorResult:
    """Halt when some class's share of some split is below ``min_share``."""
    params = ctx.params
    assert isinstance(params, GateParams)
    summary_artifact = ctx.one("summary")
    assert summary_artifact is not None
    summary = json.loads((summary_artifact.path / SUMMARY_FILE).read_text())
    rare = [
        f"{split}: class {label} is {share:.1%}"
        for split, classes in summary.items() for label, share in classes.items()
        if share < params.min_share
    ]
    verdict = ctx.outputs["verdict"]
    (verdict.path / "verdict.json").write_text(json.dumps({"rare": rare}))
    if rare:
        return ExecutorResult(
            outcome="halted",
            message=f"classes below {params.min_share:.0%}: " + "; ".join(rare),
            reports=[str(verdict.path / "verdict.json")],
        )
    return ExecutorResult(message="every class is common enough")
