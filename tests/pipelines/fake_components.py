"""Tiny components for launcher and runner tests: they write files, no heavy libraries."""

from __future__ import annotations

from pathlib import Path

from pipelines.component import ComponentSpec, ExecutionContext, ExecutorResult, InputSpec, Params
from pipelines.config.models import PipelineConfig
from pipelines.graph import Channel, Node, Pipeline


class FakeParams(Params):
    fail: bool = False
    outcome: str = "complete"
    span: int | None = None  # the producer's span, as ExampleGen's; None reads the "latest", 3


def produce(ctx: ExecutionContext) -> ExecutorResult:
    out = Path(ctx.outputs["examples"].uri)
    (out / "data.txt").write_text(f"rows from {ctx.run_id}\n")
    ctx.outputs["examples"].properties["span"] = ctx.params.span or 3  # type: ignore[attr-defined]
    if ctx.params.fail:  # type: ignore[attr-defined]
        raise RuntimeError("disk on fire")
    return ExecutorResult(outcome=ctx.params.outcome)  # type: ignore[attr-defined]


def consume(ctx: ExecutionContext) -> ExecutorResult:
    [examples] = ctx.inputs["examples"]
    text = (Path(examples.uri) / "data.txt").read_text()
    (Path(ctx.outputs["statistics"].uri) / "stats.txt").write_text(text.upper())
    if ctx.params.fail:  # type: ignore[attr-defined]
        raise RuntimeError("out of memory")
    return ExecutorResult()


def source_fingerprint(params: FakeParams, config_dir: Path) -> str:
    """Stands in for ExampleGen's fingerprint of its input files."""
    return SOURCE_VERSION[0]


SOURCE_VERSION = ["v1"]  # tests edit this to simulate new input data

PRODUCER = ComponentSpec(
    name="FakeGen", version="1", params=FakeParams, inputs={},
    outputs={"examples": "Examples"}, executor=f"{__name__}:produce",
    external_fingerprint=f"{__name__}:source_fingerprint", may_halt=True, span_param="span",
)
CONSUMER = ComponentSpec(
    name="FakeStats", version="1", params=FakeParams,
    inputs={"examples": InputSpec("Examples")},
    outputs={"statistics": "ExampleStatistics"}, executor=f"{__name__}:consume",
)


def fake_pipeline(gen: FakeParams | None = None, stats: FakeParams | None = None) -> Pipeline:
    """A two-node pipeline (gen -> stats) on the SQLite store under $LOCKGATE_HOME."""
    config = PipelineConfig.model_validate(
        {"pipeline": {"name": "fake"}, "components": [{"component": "StatisticsGen"}]}
    )
    entry = config.components[0]
    nodes = {
        "gen": Node("gen", entry.model_copy(update={"params": gen or FakeParams()}), PRODUCER, ()),
        "stats": Node(
            "stats",
            entry.model_copy(update={"params": stats or FakeParams()}),
            CONSUMER,
            (Channel("examples", CONSUMER.inputs["examples"], "gen", "examples"),),
        ),
    }
    return Pipeline(config, nodes)
