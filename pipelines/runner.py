"""The local runner: every node of a pipeline, in topological order, in this process."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipelines.graph import Pipeline
from pipelines.launcher import NodeFailed, NodeResult, Progress, launch
from pipelines.metadata.store import LineageStore


def new_run_id() -> str:
    return f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    results: list[NodeResult] = field(default_factory=list)
    failure: NodeFailed | None = None
    seconds: float = 0.0

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
    on_start: Callable[[str], Progress | None] = lambda node_id: None,
    on_result: Callable[[NodeResult], None] = lambda result: None,
) -> RunSummary:
    """Run every node; with ``resume``, skip nodes already done in ``run_id``.

    Stops at the first failure or halt. ``on_start`` may return a progress callback for the
    node; ``on_result`` sees each finished node (the CLI prints them).
    """
    started = time.monotonic()
    summary = RunSummary(pipeline.name, run_id or new_run_id())
    store = LineageStore(pipeline.config.metadata)
    for node_id in pipeline.order:
        if resume:
            contexts = store.contexts(pipeline.name, summary.run_id, node_id)
            if store.latest_done_execution(contexts, node_id) is not None:
                continue
        try:
            result = launch(
                pipeline, node_id, summary.run_id, store=store, progress=on_start(node_id),
                use_cache=use_cache,
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
