"""Find a node's input artifacts in ML Metadata.

Inputs never travel between processes: every runner (local or Airflow task) resolves them
from MLMD by the producing node's name in the same pipeline run. Only outputs of COMPLETE or
CACHED executions, in LIVE state, can be resolved, so a failed or crashed upstream node's
partial files are unreachable.
"""

from __future__ import annotations

from typing import Any

from pipelines.component import Artifact, load_callable
from pipelines.errors import LockgateError
from pipelines.graph import Channel, Node, Pipeline
from pipelines.metadata.store import Contexts, LineageStore
from pipelines.overrides import (
    annotate_baseline,
    baseline_override,
    overridden_blessings,
    run_override,
)
from pipelines.windows import SpanWindow, WindowTooShort, window_spans


class MissingInputError(LockgateError):
    """An upstream node has not produced this run's input yet."""


def resolve_inputs(
    store: LineageStore, contexts: Contexts, node: Node, run_id: str, *, pipeline: Pipeline
) -> dict[str, list[Artifact]]:
    inputs: dict[str, list[Artifact]] = {}
    for channel in node.channels:
        switch = channel.spec.enabled_by
        if switch and not getattr(node.entry.params, switch):
            continue
        if channel.spec.resolver == "latest_blessed_model":
            found = latest_blessed_model(store, contexts.pipeline)
        elif channel.spec.resolver == "baseline_examples":
            found = baseline_examples(store, contexts.pipeline)
        elif channel.spec.resolver == "run_override":
            found = run_override(store, contexts, node.id, run_id, channel.spec.type)
        else:
            found = _upstream(store, contexts, channel, run_id)
            if found and channel.spec.resolver == "previous_span":
                found = _previous_span(store, contexts, found[0])
            if found and channel.spec.resolver == "span_window":
                found = _span_window(store, contexts, pipeline, channel, found[0])
            if found and channel.spec.type == "ModelBlessing":  # `lockgate bless` wins
                found = overridden_blessings(store, contexts, found)
        if found:
            inputs[channel.name] = found
        elif not channel.spec.optional:
            raise MissingInputError(
                f"node '{node.id}' needs '{channel.producer}.{channel.output}' from run "
                f"'{run_id}', but '{channel.producer}' has not completed in that run; run it "
                "first (lockgate run --resume RUN_ID runs what is missing)"
            )
    return inputs


def _upstream(
    store: LineageStore, contexts: Contexts, channel: Channel, run_id: str
) -> list[Artifact]:
    assert channel.producer and channel.output
    execution = store.latest_done_execution(contexts, channel.producer)
    if execution is None:
        return []
    return store.outputs_of(execution.id).get(channel.output, [])


def _previous_span(store: LineageStore, contexts: Contexts, current: Artifact) -> list[Artifact]:
    """The newest artifact from the same producer for an earlier span than ``current``."""
    span = current.properties.get("span")
    if span is None:
        return []
    earlier = [
        a for a in store.artifacts_in(contexts.pipeline, current.type)
        if a.properties.get("producer_node") == current.properties.get("producer_node")
        and a.properties.get("span") is not None and a.properties["span"] < span
    ]
    return [max(earlier, key=lambda a: (a.properties["span"], a.id or 0))] if earlier else []


def _span_window(store: LineageStore, contexts: Contexts, pipeline: Pipeline, channel: Channel,
                 current: Artifact) -> list[Artifact]:
    """The newest artifact of each span in the producer's window, oldest span first; this
    run's own artifact for the span it read (pipelines/windows.py)."""
    assert channel.producer
    producer = pipeline.nodes[channel.producer]
    span = current.properties.get("span")
    window = window_of(producer)
    if window is None or span is None or producer.spec.spans is None:
        return [current]
    available = load_callable(producer.spec.spans)(producer.entry.params,
                                                   pipeline.config.config_dir)
    spans = window_spans(window, available, int(span))
    newest: dict[int, Artifact] = {}
    for artifact in store.artifacts_in(contexts.pipeline, current.type):
        held = artifact.properties.get("span")
        if (artifact.properties.get("producer_node") == channel.producer and held in spans
                and (held not in newest or (artifact.id or 0) > (newest[held].id or 0))):
            newest[held] = artifact
    newest[int(span)] = current
    missing = [s for s in spans if s not in newest]
    if missing:
        raise MissingInputError(
            f"the window of '{channel.producer}' holds spans {spans}, but spans {missing} were "
            "never ingested here; `lockgate run` ingests a window's older spans first (under "
            "Airflow, the span reader's task does)"
        )
    if len(spans) < window.min_spans:
        raise WindowTooShort(
            f"the window holds {len(spans)} span(s) ({', '.join(map(str, spans))}), fewer than "
            f"min_spans {window.min_spans}; skipped until more spans have landed"
        )
    return [newest[s] for s in spans]


def window_of(node: Node) -> SpanWindow | None:
    """The span window a span reader's params set, or None."""
    if not node.spec.window_param:
        return None
    window = getattr(node.entry.params, node.spec.window_param, None)
    return window if isinstance(window, SpanWindow) else None


def latest_blessed_model(store: LineageStore, pipeline_context: Any) -> list[Artifact]:
    """The Model named by this pipeline's newest positive ModelBlessing (an Evaluator's or
    ``lockgate bless``'s), if any, unless a newer ``lockgate baseline`` override names one."""
    blessings = [
        b for b in store.artifacts_in(pipeline_context, "ModelBlessing")
        if b.properties.get("blessed") == 1 and b.properties.get("model_id")
    ]
    pinned = baseline_override(store, pipeline_context, blessings[-1].id or 0 if blessings else 0)
    if pinned is not None:
        return pinned
    for blessing in reversed(blessings):
        models = store.artifacts([int(blessing.properties["model_id"])])
        if models:
            if blessing.properties.get("override") == 1:
                annotate_baseline(models[0], "blessed by override", blessing)
            return models
    return []


def baseline_examples(store: LineageStore, pipeline_context: Any) -> list[Artifact]:
    """The Examples the latest blessed model was blessed on: what the execution that wrote a
    positive ModelBlessing of that model read on its ``examples`` port, newest blessing first.

    The Evaluator's reference set: labels a past gate accepted, so a new span's corrupted
    labels cannot be the only judge. A blessing no Evaluator wrote (``lockgate bless``) is
    passed over for an older one of the same model; none found gives [].
    """
    models = latest_blessed_model(store, pipeline_context)
    if not models:
        return []
    model_id = models[0].id
    blessings = [
        b for b in store.artifacts_in(pipeline_context, "ModelBlessing")
        if b.properties.get("blessed") == 1 and b.properties.get("override") != 1
        and int(b.properties.get("model_id") or 0) == model_id
    ]
    for blessing in reversed(blessings):
        events = store.mlmd.get_events_by_artifact_ids([blessing.id])
        producers = sorted(e.execution_id for e in events if e.type == store.pb.Event.OUTPUT)
        for execution_id in producers:  # the first one ran; later ones are cache hits
            found = store.inputs_of(execution_id).get("examples", [])
            if found:
                return found[:1]
    return []
