"""Helpers for executor-level tests: build an ``ExecutionContext`` without MLMD."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.beam_mode import IN_MEMORY
from pipelines.component import Artifact, ExecutionContext
from pipelines.registry import spec_for

REPO = Path(__file__).resolve().parents[1]


def executor_context(
    component: str,
    tmp_path: Path,
    params: dict[str, object] | None = None,
    inputs: dict[str, list[Artifact]] | None = None,
    config_dir: Path | None = None,
) -> ExecutionContext:
    """A context for running ``component``'s executor directly; outputs go under tmp_path."""
    spec = spec_for(component)
    outputs = {}
    for name, kind in spec.outputs.items():
        out = tmp_path / "out" / name
        out.mkdir(parents=True, exist_ok=True)
        outputs[name] = Artifact(type=kind, uri=str(out))
    return ExecutionContext(
        pipeline_name="test",
        pipeline_root=tmp_path / "root",
        node_id=component.lower(),
        run_id="test-run",
        params=spec.params.model_validate(params or {}),
        inputs=inputs or {},
        outputs=outputs,
        beam_args=list(IN_MEMORY),
        config_dir=config_dir or REPO / "configs",
        log=logging.getLogger(f"lockgate.test.{component}"),
    )
