"""The local runner: every node of a pipeline, in topological order, in this process."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipelines.component import load_callable
from pipelines.errors import LockgateError
from pipelines.graph import Pipeline
from pipelines.launcher import NodeFailed, NodeResult, Progress, launch, node_cache_key
from pipelines.metadata.store import LineageStore
from pipelines.resolve import MissingInputError, resolve_inputs
from pipelines.run_lock import run_lock


def new_run_id() -> str:
    return f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


class RunNotFound(LockgateError):
    """``--resume`` names a run the store has never seen."""

    exit_code = 2  # the command was wrong, not the pipeline


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    results: list[NodeResult] = field(default_factory=list)
    failure: NodeFailed | None = None
    seconds: float = 0.0
    # With resume: nodes whose earlier execution in this run still holds (same cache key).
    kept: list[str] = field(default_factory=list)
    # Runs made first so that this one could compare with the previous span.
    prepared: list[RunSummary] = field(default_factory=list)

    @property
    def halted(self) -> NodeResult | None:
        return next((r for r in self.results if r.status == "halted"), None)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.halted is None


def run_pipeline(
    pipeline: Pipeline,
    run_id: str | None = None,
    *,
    resume: bool = False,
    use_cache: bool = True,
    span: int | None = None,
    prepare_previous_span: bool = True,
    on_start: Callable[[str], Progress | None] = lambda node_id: None,
    on_result: Callable[[NodeResult], None] = lambda result: None,
) -> RunSummary:
    """Run every node; with ``resume``, keep the nodes of ``run_id`` that still hold.

    A node done in the run is kept only if its cache key, computed again from what it would
    read now (ExampleGen's input files, the upstream artifacts, the code), is the one it ran
    with; otherwise it runs again, and so does what depends on it. So a fixed input file is
    read again. Stops at the first failure or halt. ``on_start`` may return a progress callback
    for the node; ``on_result`` sees each finished node (the CLI prints them).

    ``span`` pins the span every span-reading node reads, and is recorded on the run, so a
    resumed run reads the span it started with, not the newest. When a node compares with the
    previous span and that span was never processed here (a fresh home), the nodes it needs
    run first for that span, in a run of their own: drift is checked, not skipped.
    """
    started = time.monotonic()
    summary = RunSummary(pipeline.name, run_id or new_run_id())
    store = LineageStore(pipeline.config.metadata)
    if resume:
        if not store.run_exists(pipeline.name, summary.run_id):
            raise RunNotFound(_unknown_run(store, pipeline.name, summary.run_id))
        span = store.run_span(pipeline.name, summary.run_id)  # a backfill's run keeps its span
    if span is not None:
        pipeline = pipeline.with_span(span)
        if not resume:
            store.pin_run_span(pipeline.name, summary.run_id, span)
    if prepare_previous_span:
        previous = _previous_span_to_prepare(store, pipeline)
        if previous is not None:
            span_number, needed = previous
            prepared = run_pipeline(
                pipeline.with_span(span_number).subset(needed),
                f"{summary.run_id}.span-{span_number}", use_cache=use_cache,
                prepare_previous_span=False, on_start=on_start, on_result=on_result,
            )
            summary.prepared.append(prepared)
            if not prepared.ok:
                summary.failure = prepared.failure
                summary.seconds = time.monotonic() - started
                return summary
    with run_lock(pipeline.name, summary.run_id):
        for node_id in pipeline.order:
            if resume and _still_holds(store, pipeline, node_id, summary.run_id):
                summary.kept.append(node_id)
                continue
            try:
                result = launch(
                    pipeline, node_id, summary.run_id, store=store,
                    progress=on_start(node_id), use_cache=use_cache,
                )
            except NodeFailed as failure:
                summary.failure = failure
                break
            summary.results.append(result)
            on_result(result)
            if result.status == "halted":
                break
    summary.seconds = time.monotonic() - started
    return summary


def _still_holds(store: LineageStore, pipeline: Pipeline, node_id: str, run_id: str) -> bool:
    """The node finished in this run, and its cache key has not changed since."""
    contexts = store.contexts(pipeline.name, run_id, node_id)
    done = store.latest_done_execution(contexts, node_id)
    if done is None:
        return False
    try:
        inputs = resolve_inputs(store, contexts, pipeline.nodes[node_id], run_id)
    except MissingInputError:
        return False
    key = node_cache_key(pipeline, pipeline.nodes[node_id], inputs)
    return key == done.cache_key  # "" (never cacheable) == "": nothing to re-check


def _previous_span_to_prepare(
    store: LineageStore, pipeline: Pipeline
) -> tuple[int, set[str]] | None:
    """(the previous span, the nodes to run for it) when some node compares with the previous
    span, an earlier span exists, and its artifacts were never made; None otherwise."""
    readers = [n for n in pipeline.span_readers() if n.spec.spans]
    wanting = [(n, c) for n in pipeline.nodes.values() for c in n.channels
               if c.spec.resolver == "previous_span" and c.producer]
    if len(readers) != 1 or not wanting:
        return None
    [reader] = readers
    assert reader.spec.spans and reader.spec.span_param
    available = load_callable(reader.spec.spans)(reader.entry.params, pipeline.config.config_dir)
    current = getattr(reader.entry.params, reader.spec.span_param)
    current = current if current is not None else max(available, default=None)
    earlier = [s for s in available if current is not None and s < current]
    if not earlier:
        return None  # the first span: the validator says loudly that drift was not checked
    previous = max(earlier)
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline.name)
    needed: set[str] = set()
    for _, channel in wanting:
        assert channel.producer
        made = context is not None and any(
            a.properties.get("producer_node") == channel.producer
            and a.properties.get("span") == previous
            for a in store.artifacts_in(context, channel.spec.type)
        )
        if not made:
            needed |= {channel.producer, *pipeline.upstream_of(channel.producer)}
    return (previous, needed) if needed else None


def _unknown_run(store: LineageStore, pipeline: str, run_id: str) -> str:
    runs = store.run_ids(pipeline)[:10]
    listing = "\n".join(f"  {run}" for run in runs) or "  (none yet)"
    return (f"pipeline {pipeline} has no run '{run_id}' to resume; its most recent runs, "
            f"newest first:\n{listing}")
