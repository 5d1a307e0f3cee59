"""The local runner: every node of a pipeline, in topological order, in this process."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipelines.component import load_callable
from pipelines.errors import LockgateError, MetadataError
from pipelines.graph import Node, Pipeline
from pipelines.launcher import NodeFailed, NodeResult, Progress, launch, node_cache_key
from pipelines.metadata.connection import cannot_run
from pipelines.metadata.store import LineageStore
from pipelines.resolve import MissingInputError, resolve_inputs, window_of
from pipelines.run_lock import run_lock
from pipelines.windows import SpanWindow, WindowTooShort, current_span, window_spans


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
    # Runs made first for older spans: the previous span to compare with, and a window's.
    prepared: list[RunSummary] = field(default_factory=list)
    # Nodes not run because a node they depend on skipped (as Airflow skips them).
    skipped: list[str] = field(default_factory=list)

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
    prepare_older_spans: bool = True,
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
    previous span, or reads a span window, and those older spans were never processed here (a
    fresh home), the nodes they need run first, one run per span: drift is checked, not
    skipped, and the window is whole. A node downstream of a skipped one is skipped too.
    """
    started = time.monotonic()
    summary = RunSummary(pipeline.name, run_id or new_run_id())
    problem = cannot_run(pipeline)
    if problem:
        raise MetadataError(problem)
    store = LineageStore(pipeline.config.metadata)
    if resume:
        if not store.run_exists(pipeline.name, summary.run_id):
            raise RunNotFound(_unknown_run(store, pipeline.name, summary.run_id))
        span = store.run_span(pipeline.name, summary.run_id)  # a backfill's run keeps its span
    if span is None and not resume:
        span = windowed_span(pipeline)  # a window's reads must agree on its last span
    if span is not None:
        pipeline = pipeline.with_span(span)
        if not resume:
            store.pin_run_span(pipeline.name, summary.run_id, span)
    if prepare_older_spans:
        for span_number, needed in spans_to_prepare(store, pipeline):
            prepared = run_pipeline(
                pipeline.with_span(span_number).subset(needed),
                f"{summary.run_id}.span-{span_number}", use_cache=use_cache,
                prepare_older_spans=False, on_start=on_start, on_result=on_result,
            )
            summary.prepared.append(prepared)
            if not prepared.ok:
                summary.failure = prepared.failure
                summary.seconds = time.monotonic() - started
                return summary
    skipping: set[str] = set()
    with run_lock(pipeline.name, summary.run_id):
        for node_id in pipeline.order:
            if pipeline.nodes[node_id].upstream & skipping:
                skipping.add(node_id)  # as Airflow does: downstream of a skip is skipped
                summary.skipped.append(node_id)
                continue
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
            if result.status == "skipped":
                skipping.add(node_id)
    summary.seconds = time.monotonic() - started
    return summary


def _still_holds(store: LineageStore, pipeline: Pipeline, node_id: str, run_id: str) -> bool:
    """The node finished in this run, and its cache key has not changed since."""
    contexts = store.contexts(pipeline.name, run_id, node_id)
    done = store.latest_done_execution(contexts, node_id)
    if done is None:
        return False
    try:
        inputs = resolve_inputs(store, contexts, pipeline.nodes[node_id], run_id,
                                pipeline=pipeline)
    except (MissingInputError, WindowTooShort):
        return False
    key = node_cache_key(pipeline, pipeline.nodes[node_id], inputs)
    return key == done.cache_key  # "" (never cacheable) == "": nothing to re-check


@dataclass(frozen=True)
class _SpanState:
    """The pipeline's one span reader, its window, the spans there now, and the span the run
    reads (the pinned one, else the newest: in a range window, the newest in range)."""

    reader: Node
    window: SpanWindow | None
    available: list[int]
    pinned: int | None
    current: int | None


def _span_state(pipeline: Pipeline) -> _SpanState | None:
    readers = [n for n in pipeline.span_readers() if n.spec.spans]
    if len(readers) != 1:
        return None
    [reader] = readers
    assert reader.spec.spans and reader.spec.span_param
    window = window_of(reader)
    available = load_callable(reader.spec.spans)(reader.entry.params, pipeline.config.config_dir)
    pinned = getattr(reader.entry.params, reader.spec.span_param)
    current = pinned if pinned is not None else current_span(window, available)
    return _SpanState(reader, window, available, pinned, current)


def windowed_span(pipeline: Pipeline) -> int | None:
    """The span a windowed pipeline's run reads when none is pinned (None without a window):
    every task of the run, and each window resolver, must agree on it even if a newer span
    lands mid-run."""
    state = _span_state(pipeline)
    if state is None or state.window is None or state.pinned is not None:
        return None
    return state.current


def spans_to_prepare(store: LineageStore, pipeline: Pipeline) -> list[tuple[int, set[str]]]:
    """The older spans a run needs made first, oldest first, each with the nodes to run for
    it: the previous span, when some node compares with it, and the rest of the span window.

    A span counts as made when its reader has a cache hit for it (the same files: no read) and
    each per-span artifact later nodes compare with exists. So a daily run of a 7-span window
    prepares nothing, and a cold one ingests the six older spans first.
    """
    state = _span_state(pipeline)
    if state is None or state.current is None:
        return []
    reader, window, available, current = (state.reader, state.window, state.available,
                                          state.current)
    wanting = [c for n in pipeline.nodes.values() for c in n.channels
               if c.spec.resolver == "previous_span" and c.producer]
    wanted = set(window_spans(window, available, current)) - {current}
    earlier = [s for s in available if s < current]
    if wanting and earlier:
        wanted.add(max(earlier))  # the first span of all: the validator says so, loudly
    needed = {reader.id}
    for channel in wanting:
        assert channel.producer
        needed |= {channel.producer, *pipeline.upstream_of(channel.producer)}
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline.name)
    compared: list[set[int]] = []  # per compared channel: the spans its producer made
    for channel in wanting:
        artifacts = store.artifacts_in(context, channel.spec.type) if context else []
        compared.append({a.properties["span"] for a in artifacts
                         if a.properties.get("producer_node") == channel.producer
                         and isinstance(a.properties.get("span"), int)})
    prepare = []
    for span in sorted(wanted):
        pinned_pipeline = pipeline.with_span(span)
        node = pinned_pipeline.nodes[reader.id]
        made = all(span in spans for spans in compared) and store.has_cached(
            pipeline.name, node.spec, node_cache_key(pinned_pipeline, node, {}))
        if not made:
            prepare.append((span, needed))
    return prepare


def _unknown_run(store: LineageStore, pipeline: str, run_id: str) -> str:
    runs = store.run_ids(pipeline)[:10]
    listing = "\n".join(f"  {run}" for run in runs) or "  (none yet)"
    return (f"pipeline {pipeline} has no run '{run_id}' to resume; its most recent runs, "
            f"newest first:\n{listing}")
