"""``lockgate gc CONFIG --keep-spans N --keep-models M [--dry-run]``: a retention policy.

What is outside the retention: the Examples of every span but the newest N (by span number),
every Model but the newest M, and everything made from either (statistics, anomalies,
transform outputs, evaluations, blessings, predictions). Its files are deleted and its MLMD
artifact marked DELETED, so no cache hit and no resolver can reach it again, while its lineage
records stay.

What is never deleted, whatever the numbers: what a served version, the baseline or the
reference set depends on. That is each one's whole upstream (what made it, and the other
outputs of the executions on the way: the evaluation beside a blessing), so ``lockgate lineage
serving`` still answers for every served version. Comparisons are not dependencies (an
Evaluator's baseline model, a validator's previous span, a warm start's base model: the new
model carries its own weights), or no old model could ever go. Pushed-model records and
override audit records are never deleted.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.component import Artifact
from pipelines.graph import Pipeline, build_pipeline
from pipelines.lineage.walk import COMPARISON_PORTS, HEAD_START_PORTS
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from pipelines.resolve import baseline_examples, latest_blessed_model
from pipelines.serving import read_manifest, serving_target, versions

# Read for a comparison or a head start, not built on (see the module docstring).
NOT_DEPENDENCIES = COMPARISON_PORTS | HEAD_START_PORTS
KEPT_TYPES = frozenset({"PushedModel"})  # records of what was served: never deleted


@dataclass
class GcPlan:
    delete: list[Artifact] = field(default_factory=list)
    protected: dict[int, str] = field(default_factory=dict)  # artifact id -> why it is kept
    kept_spans: list[int] = field(default_factory=list)
    kept_models: list[int] = field(default_factory=list)


class _Graph:
    """One pipeline's LIVE artifacts and the events between them, read once."""

    def __init__(self, store: LineageStore, pipeline: str) -> None:
        context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline)
        protos = store.mlmd.get_artifacts_by_context(context.id) if context else []
        live = [p for p in protos if p.state == store.pb.Artifact.LIVE]
        self.artifacts = {p.id: store._from_proto(p) for p in live}
        self.producer: dict[int, int] = {}
        self.inputs: dict[int, list[tuple[str, int]]] = {}  # execution -> (port, artifact)
        self.outputs: dict[int, list[int]] = {}
        self.readers: dict[int, list[int]] = {}
        events = store.mlmd.get_events_by_artifact_ids(list(self.artifacts)) if live else []
        for event in sorted(events, key=lambda e: (e.milliseconds_since_epoch, e.execution_id)):
            port = event.path.steps[0].key if event.path.steps else ""
            if event.type == store.pb.Event.OUTPUT:
                self.producer.setdefault(event.artifact_id, event.execution_id)
                self.outputs.setdefault(event.execution_id, []).append(event.artifact_id)
            elif event.type == store.pb.Event.INPUT:
                self.inputs.setdefault(event.execution_id, []).append((port, event.artifact_id))
                if port not in NOT_DEPENDENCIES:
                    self.readers.setdefault(event.artifact_id, []).append(event.execution_id)

    def upstream(self, roots: set[int]) -> set[int]:
        """``roots``, what they were built from, and their producers' other outputs."""
        found, frontier = set(roots), set(roots)
        while frontier:
            executions = {self.producer[a] for a in frontier if a in self.producer}
            reached = {a for e in executions for a in self.outputs.get(e, [])}
            reached |= {a for e in executions for port, a in self.inputs.get(e, [])
                        if port not in NOT_DEPENDENCIES}
            frontier = (reached & set(self.artifacts)) - found
            found |= frontier
        return found

    def downstream(self, roots: set[int]) -> set[int]:
        """``roots`` and everything built from them."""
        found, frontier = set(roots), set(roots)
        while frontier:
            executions = {e for a in frontier for e in self.readers.get(a, [])}
            frontier = {a for e in executions for a in self.outputs.get(e, [])} - found
            found |= frontier
        return found


def plan_gc(store: LineageStore, pipeline: Pipeline, keep_spans: int,
            keep_models: int) -> GcPlan:
    graph = _Graph(store, pipeline.name)
    plan = GcPlan()
    readers = {n.id for n in pipeline.span_readers()}
    by_span: dict[int, set[int]] = {}
    for artifact in graph.artifacts.values():
        span = artifact.properties.get("span")
        if (artifact.type == "Examples" and isinstance(span, int)
                and artifact.properties.get("producer_node") in readers):
            by_span.setdefault(span, set()).add(artifact.id or 0)
    plan.kept_spans = sorted(by_span)[-keep_spans:] if keep_spans else []
    models = sorted(a.id or 0 for a in graph.artifacts.values() if a.type == "Model")
    plan.kept_models = models[-keep_models:] if keep_models else []
    old = {a for span, ids in by_span.items() if span not in plan.kept_spans for a in ids}
    old |= set(models) - set(plan.kept_models)

    for why, roots in _protected_roots(store, pipeline).items():
        for artifact_id in graph.upstream(roots & set(graph.artifacts)):
            plan.protected.setdefault(artifact_id, why)
    doomed = graph.downstream(old) - set(plan.protected)
    plan.delete = sorted(
        (graph.artifacts[a] for a in doomed
         if graph.artifacts[a].type not in KEPT_TYPES
         and graph.artifacts[a].properties.get("override") != 1),
        key=lambda a: a.id or 0)
    return plan


def _protected_roots(store: LineageStore, pipeline: Pipeline) -> dict[str, set[int]]:
    """Why -> the artifacts that must stay: each served version's model and blessing, the
    baseline model and the reference set."""
    roots: dict[str, set[int]] = {}
    for node in pipeline.nodes.values():
        if "PushedModel" not in node.spec.outputs.values():
            continue
        params = node.entry.params
        target = serving_target(getattr(params, "destination", None),
                                getattr(params, "model_name", None) or pipeline.name,
                                pipeline.config.pipeline.allow_outside_home)
        manifest = read_manifest(target)
        for version in versions(target):
            held = manifest.get(str(version), {})
            ids = {int(held[k]) for k in ("model_id", "blessing_id") if held.get(k)}
            roots[f"serving {target.model_name} version {version}"] = ids
    context = store.mlmd.get_context_by_type_and_name("pipeline", pipeline.name)
    if context is not None:
        roots["the baseline"] = {a.id or 0 for a in latest_blessed_model(store, context)}
        roots["the reference set"] = {a.id or 0 for a in baseline_examples(store, context)}
    return roots


def apply_gc(store: LineageStore, plan: GcPlan) -> int:
    """Delete the plan's files, then mark its artifacts DELETED; returns the bytes freed."""
    freed = 0
    protos = store.mlmd.get_artifacts_by_id([a.id for a in plan.delete if a.id is not None])
    for proto in protos:
        path = Path(proto.uri)
        if path.exists():
            freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        proto.state = store.pb.Artifact.DELETED
    store._retry(lambda: store.mlmd.put_artifacts(protos))
    return freed


def gc(config_path: Path, keep_spans: int, keep_models: int, dry_run: bool) -> int:
    """The CLI: print the plan, and carry it out unless ``dry_run``; exit code."""
    pipeline = build_pipeline(load_config(config_path, require_data=False))
    store = LineageStore(pipeline.config.metadata)
    plan = plan_gc(store, pipeline, keep_spans, keep_models)
    print(f"{pipeline.name}: keeping spans {_listing(plan.kept_spans)} and models "
          f"{_listing(plan.kept_models)}, and everything a served version, the baseline or "
          f"the reference set depends on ({len(plan.protected)} artifacts)")
    for artifact in plan.delete:
        span = artifact.properties.get("span")
        print(f"  {'would delete' if dry_run else 'delete'} {artifact.type} {artifact.id}"
              f"{f' (span {span})' if span is not None else ''}: {artifact.uri}")
    if not plan.delete:
        print("nothing is outside the retention")
    elif dry_run:
        print(f"{len(plan.delete)} artifacts would be deleted; run without --dry-run to do it")
    else:
        freed = apply_gc(store, plan)
        print(f"deleted {len(plan.delete)} artifacts, {freed / 1e6:.1f} MB; their lineage "
              "records stay in ML Metadata, marked DELETED")
    sys.stdout.flush()
    return 0


def _listing(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) or "none"
