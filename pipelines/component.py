"""The contract between the framework and a component.

A component is a cheap-to-import ``ComponentSpec`` (its parameters, typed inputs and outputs,
and the dotted path of its executor) plus an executor module that may import TensorFlow, Beam
and friends. The launcher hands an executor an ``ExecutionContext`` of plain paths and values,
so executors never touch ML Metadata and can be tested on their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ArtifactType = Literal[
    "Examples",
    "ExampleStatistics",
    "Schema",
    "ExampleAnomalies",
    "TransformGraph",
    "Model",
    "ModelRun",
    "ModelEvaluation",
    "ModelBlessing",
    "PushedModel",
]

# How an input is found in ML Metadata.
#   upstream:             the output of the wired upstream node in the same pipeline run.
#   latest_blessed_model: the newest Model of this pipeline that an Evaluator blessed.
#   previous_span:        the same upstream output for the newest earlier span, if any.
Resolver = Literal["upstream", "latest_blessed_model", "previous_span"]


class Params(BaseModel):
    """Base for component parameter models: frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def config_path(config_dir: Path, value: str) -> Path:
    """A path written in a config: relative paths are relative to the config file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (config_dir / path).resolve()


@dataclass(frozen=True)
class InputSpec:
    type: ArtifactType
    optional: bool = False
    resolver: Resolver = "upstream"
    # When several upstream nodes produce ``type``, default wiring prefers this component's.
    prefer_component: str | None = None


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    version: str
    params: type[Params]
    inputs: Mapping[str, InputSpec]
    outputs: Mapping[str, ArtifactType]
    executor: str  # "package.module:function", imported only when the node runs
    description: str = ""
    # Names of params that point at user code; their files are hashed into the cache key.
    user_code_params: tuple[str, ...] = ()
    # "module:function" taking (params, config_dir) and returning a fingerprint of what the
    # component reads from outside MLMD (ExampleGen's files). It must be cheap: it runs before
    # every cache lookup. A component with no inputs and no such function is never cached.
    external_fingerprint: str | None = None


@dataclass
class Artifact:
    """An artifact as an executor sees it: where it lives and what MLMD says about it."""

    type: ArtifactType
    uri: str
    id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.uri)


@dataclass
class ExecutionContext:
    """Everything an executor may use. Outputs' ``uri`` is a staging directory the launcher
    renames into place only after the executor returns."""

    pipeline_name: str
    pipeline_root: Path
    node_id: str
    run_id: str
    params: Params
    inputs: dict[str, list[Artifact]]
    outputs: dict[str, Artifact]
    beam_args: list[str]
    config_dir: Path
    log: logging.Logger
    # Report progress of a long step: (completed, total or None, description).
    progress: Callable[[float, float | None, str], None] = lambda done, total, what: None

    def resolve_path(self, value: str) -> Path:
        return config_path(self.config_dir, value)

    def one(self, name: str) -> Artifact | None:
        """The single artifact of input ``name``, or None when an optional input is absent."""
        artifacts = self.inputs.get(name) or []
        return artifacts[0] if artifacts else None


Outcome = Literal["complete", "skipped", "halted"]


@dataclass
class ExecutorResult:
    """What an executor reports besides the files it wrote.

    ``skipped``: the node decided not to act (an unblessed model is not pushed); its outputs are
    discarded and the reason is recorded. ``halted``: outputs are published for inspection, but
    the run must stop here (ExampleValidator found anomalies).
    """

    outcome: Outcome = "complete"
    message: str = ""
    reports: list[str] = field(default_factory=list)
    # Properties recorded on the execution, e.g. counts worth seeing in MLMD.
    properties: dict[str, Any] = field(default_factory=dict)
