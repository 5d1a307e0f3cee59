"""Tiny components for launcher and runner tests: they write files, no heavy libraries."""

from __future__ import annotations

from pathlib import Path

from pipelines.component import ComponentSpec, ExecutionContext, ExecutorResult, InputSpec, Params
from pipelines.config.models import PipelineConfig
from pipelines.graph import Channel, Node, Pipeline
from pipelines.windows import SpanWindow


class FakeParams(Params):
    fail: bool = False
    outcome: str = "complete"
    span: int | None = None  # the producer's span, as ExampleGen's; None reads the latest
    window: SpanWindow | None = None  # the producer's span window, as ExampleGen's `spans`


def produce(ctx: ExecutionContext) -> ExecutorResult:
    out = Path(ctx.outputs["examples"].uri)
    (out / "data.txt").write_text(f"rows from {ctx.run_id}\n")
    ctx.outputs["examples"].properties["span"] = _span(ctx.params)  # type: ignore[arg-type]
    if ctx.params.fail:  # type: ignore[attr-defined]
        raise RuntimeError("disk on fire")
    return ExecutorResult(outcome=ctx.params.outcome)  # type: ignore[attr-defined]


def consume(ctx: ExecutionContext) -> ExecutorResult:
    text = "".join((Path(e.uri) / "data.txt").read_text() for e in ctx.inputs["examples"])
    (Path(ctx.outputs["statistics"].uri) / "stats.txt").write_text(text.upper())
    if ctx.params.fail:  # type: ignore[attr-defined]
        raise RuntimeError("out of memory")
    return ExecutorResult()


def source_fingerprint(params: FakeParams, config_dir: Path) -> str:
    """Stands in for ExampleGen's fingerprint of its input files, which names the span read."""
    return f"{SOURCE_VERSION[0]}:{_span(params)}"


def available_spans(params: FakeParams, config_dir: Path) -> list[int]:
    return list(AVAILABLE_SPANS)


def _span(params: FakeParams) -> int:
    return params.span if params.span is not None else max(AVAILABLE_SPANS)


SOURCE_VERSION = ["v1"]  # tests edit this to simulate new input data
AVAILABLE_SPANS = [1, 2, 3]  # the spans "on disk"; tests add to it to simulate a new day

PRODUCER = ComponentSpec(
    name="FakeGen", version="1", params=FakeParams, inputs={},
    outputs={"examples": "Examples"}, executor=f"{__name__}:produce",
    external_fingerprint=f"{__name__}:source_fingerprint", may_halt=True, span_param="span",
    spans=f"{__name__}:available_spans", window_param="window",
)
CONSUMER = ComponentSpec(
    name="FakeStats", version="1", params=FakeParams,
    inputs={"examples": InputSpec("Examples", resolver="span_window")},
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
