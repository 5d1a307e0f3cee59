"""The contract between the framework and a component.

A component is a cheap-to-import ``ComponentSpec`` (its parameters, typed inputs and outputs,
and the dotted path of its executor) plus an executor module that may import TensorFlow, Beam
and friends. The launcher hands an executor an ``ExecutionContext`` of plain paths and values,
so executors never touch ML Metadata and can be tested on their own.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict

from pipelines.errors import LockgateError

# An artifact type is a name. These are the standard ones; a component may declare others (an
# author's "Embeddings", say), and MLMD gets a type of that name the first time one is written.
ArtifactType = str
STANDARD_ARTIFACT_TYPES: tuple[str, ...] = (
    "Examples",
    "ExampleStatistics",
    "Schema",
    "ExampleAnomalies",
    "TransformGraph",
    "Model",
    "ModelRun",
    "ModelEvaluation",
    "ModelBlessing",
    "InfraBlessing",
    "InferenceResult",
    "PushedModel",
)
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"

# How an input is found in ML Metadata.
#   upstream:             the output of the wired upstream node in the same pipeline run.
#   latest_blessed_model: the newest Model of this pipeline that an Evaluator blessed.
#   previous_span:        the same upstream output for the newest earlier span, if any.
#   baseline_examples:    the Examples the latest blessed model's Evaluator read (its
#                         ``examples`` port): the data that model was blessed on.
#   run_override:         the newest override (``lockgate accept-anomalies``) recorded for
#                         this node of this run, if any (``pipelines/overrides.py``).
Resolver = Literal[
    "upstream", "latest_blessed_model", "previous_span", "baseline_examples", "run_override",
    "span_window",
]
RESOLVERS: tuple[str, ...] = get_args(Resolver)
# Resolvers that read MLMD directly: their inputs are not wired to an upstream node.
UNWIRED_RESOLVERS: tuple[str, ...] = (
    "latest_blessed_model", "baseline_examples", "run_override"
)


class ComponentDefinitionError(LockgateError):
    """A component's spec is malformed: the author's mistake, found when the spec is built."""


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
    # A param that switches the input on: while it is false the input is not resolved (nor in
    # the cache key), e.g. the Trainer's base model with ``warm_start``.
    enabled_by: str | None = None


Executor = Callable[["ExecutionContext"], "ExecutorResult"]
KeyPath = tuple[str | int, ...]


class Finding(NamedTuple):
    """A finding of a spec's ``checks``: the key path inside the entry's params, the message,
    and whether it is about data rather than the config.

    ``data`` findings (ExampleGen's input matching no files) fail ``lockgate run`` but are
    warnings for ``lockgate validate``: data may arrive after the config is written (a daily
    feed, ``lockgate datagen``), and a config must validate in CI where it never did.
    """

    key_path: KeyPath
    message: str
    data: bool = False


# A plain (key path, message) pair is a config finding.
CheckFinding = tuple[KeyPath, str] | Finding
Checks = Callable[["Params", "CheckContext"], Iterable[CheckFinding]]


@dataclass(frozen=True)
class CheckContext:
    """What a component's ``checks`` may look at when a config is validated, before anything
    runs: the config's folder, and the spec and params of the node wired to each input."""

    config_dir: Path
    node_id: str
    upstream: Mapping[str, tuple[ComponentSpec, Params]]
    allow_outside_home: bool = False  # the config's pipeline.allow_outside_home

    def resolve_path(self, value: str) -> Path:
        return config_path(self.config_dir, value)


@dataclass(frozen=True)
class ComponentSpec:
    """What the framework knows of a component before it runs: cheap to build and to import.

    Write one directly (the standard components do, naming their executor by a string so its
    heavy imports wait until the node runs) or let ``@component`` build it around a function.
    It is checked when it is built, so a mistake names the component, not a later crash.
    """

    name: str
    version: str
    params: type[Params]
    inputs: Mapping[str, InputSpec]
    outputs: Mapping[str, ArtifactType]
    # "package.module:function", imported only when the node runs, or the function itself.
    executor: str | Executor
    description: str = ""
    # Names of params that point at user code; their files are hashed into the cache key.
    user_code_params: tuple[str, ...] = ()
    # "module:function" taking (params, config_dir) and returning a fingerprint of what the
    # component reads from outside MLMD (ExampleGen's files). It must be cheap: it runs before
    # every cache lookup. A component with no inputs and no such function is never cached.
    external_fingerprint: str | None = None
    # A gate: it may return ``halted``, and every later node waits for it (in Airflow too).
    may_halt: bool = False
    # A component that reads spans of data names the param that pins the span (set by
    # `lockgate run --span N`), and a cheap "module:function" taking (params, config_dir) that
    # lists the spans available now, oldest first.
    span_param: str | None = None
    spans: str | None = None
    # With a span_param: the param holding its ``pipelines.windows.SpanWindow`` (or None), the
    # spans that ``span_window`` inputs downstream read.
    window_param: str | None = None
    # More files the component's code depends on (data files, templates), relative to the
    # file that defines the spec; hashed into the cache key with the code itself.
    code_files: tuple[str, ...] = ()
    # The file defining the spec, when a config names it by import path: its code (and the
    # local modules it imports) is hashed into the cache key. Set by the registry.
    module_file: str | None = None
    # Checks run by `lockgate validate` (and before every run) that need more than the params
    # model can see: files on disk, the curated schema upstream. "module:function" or the
    # function, taking (params, CheckContext) and yielding (key path in params, message).
    # Cheap: no TensorFlow. The params model's own validators come first.
    checks: str | Checks | None = None

    def __post_init__(self) -> None:
        problems = list(_spec_problems(self))
        if problems:
            raise ComponentDefinitionError(
                f"component '{self.name}' is not well defined: " + "; ".join(problems)
            )


def _spec_problems(spec: ComponentSpec) -> Iterable[str]:
    name = re.compile(NAME_PATTERN)
    if not isinstance(spec.name, str) or not name.match(spec.name):
        yield f"its name {spec.name!r} must be a word of letters, digits and '_'"
    if not (isinstance(spec.params, type) and issubclass(spec.params, Params)):
        yield "params must be a subclass of pipelines.sdk.Params"
    for port, kind in spec.outputs.items():
        if not isinstance(kind, str) or not name.match(kind):
            yield f"output '{port}' has type {kind!r}; an artifact type is a name like 'Model'"
    for port, input_spec in spec.inputs.items():
        if not isinstance(input_spec, InputSpec):
            yield f"input '{port}' must be an InputSpec, or a type name such as 'Examples'"
        elif input_spec.resolver not in RESOLVERS:
            yield (f"input '{port}' has resolver {input_spec.resolver!r}; resolvers are "
                   f"{', '.join(RESOLVERS)}")
        elif not name.match(input_spec.type):
            yield f"input '{port}' has type {input_spec.type!r}; use a name like 'Examples'"
    clash = set(spec.inputs) & set(spec.outputs)
    if clash:
        yield f"{', '.join(sorted(clash))} is both an input and an output"
    if isinstance(spec.executor, str):
        if ":" not in spec.executor:
            yield f"executor {spec.executor!r} must be 'package.module:function'"
    elif callable(spec.executor):
        problem = executor_signature_problem(spec.executor)
        if problem:
            yield problem
    else:
        yield "executor must be a function or a 'package.module:function' string"
    if isinstance(spec.params, type) and issubclass(spec.params, Params):
        switches = [i.enabled_by for i in spec.inputs.values() if isinstance(i, InputSpec)]
        for param in (*spec.user_code_params,
                      *filter(None, [spec.span_param, spec.window_param, *switches])):
            if param not in spec.params.model_fields:
                yield f"'{param}' is named in the spec but is not a field of its params"


def load_callable(path: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``; how specs name code without importing it."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def executor_signature_problem(fn: Callable[..., Any]) -> str | None:
    """Why ``fn`` cannot be called as ``fn(ctx)``, or None when it can."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin or C function: nothing to check
    try:
        signature.bind(None)
    except TypeError:
        where = getattr(fn, "__qualname__", repr(fn))
        return (f"its executor {where}({', '.join(signature.parameters)}) must take exactly "
                "one argument, the "
                "ExecutionContext: def my_step(ctx: ExecutionContext) -> ExecutorResult")
    return None


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
    outputs: Mapping[str, Artifact]
    beam_args: list[str]
    config_dir: Path
    log: logging.Logger
    # Report progress of a long step: (completed, total or None, description).
    progress: Callable[[float, float | None, str], None] = lambda done, total, what: None
    # The config's pipeline.allow_outside_home: may outputs of its own choosing (a Pusher's
    # destination) lie outside LOCKGATE_HOME.
    allow_outside_home: bool = False

    def resolve_path(self, value: str) -> Path:
        return config_path(self.config_dir, value)

    def one(self, name: str) -> Artifact | None:
        """The single artifact of input ``name``, or None when an optional input is absent."""
        artifacts = self.inputs.get(name) or []
        return artifacts[0] if artifacts else None


class OutputPorts(dict[str, Artifact]):
    """``ctx.outputs``: asking for an output the spec does not declare names the ones it does."""

    def __init__(self, spec: ComponentSpec, ports: Mapping[str, Artifact]) -> None:
        super().__init__(ports)
        self.spec = spec

    def __missing__(self, port: str) -> Artifact:
        where = self.spec.module_file or self.spec.executor
        raise UndeclaredOutputError(
            f"component '{self.spec.name}' ({where}) wrote to output '{port}', which its spec "
            f"does not declare (it declares {', '.join(self) or 'no outputs'}); add it to the "
            "spec's outputs"
        )


class UndeclaredOutputError(LockgateError, KeyError):
    """An executor used an output port its spec does not declare."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


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


def component(
    *,
    name: str | None = None,
    version: str = "1",
    params: type[Params] = Params,
    inputs: Mapping[str, InputSpec | ArtifactType] | None = None,
    outputs: Mapping[str, ArtifactType] | None = None,
    description: str | None = None,
    user_code_params: tuple[str, ...] = (),
    code_files: tuple[str, ...] = (),
    may_halt: bool = False,
    external_fingerprint: str | None = None,
) -> Callable[[Executor], ComponentSpec]:
    """Make a function ``fn(ctx: ExecutionContext) -> ExecutorResult`` a component.

    The decorated name becomes the ``ComponentSpec`` (the function stays at ``.executor``), so a
    config names it as ``module:name``. Its module is imported whenever a config that uses it is
    loaded, the Airflow DAG processor included: keep heavy imports (TensorFlow, Beam) inside
    the function. ``inputs`` take an ``InputSpec`` or just a type name; ``name`` defaults to the
    function's name in CamelCase.
    """

    def wrap(fn: Executor) -> ComponentSpec:
        ports = {
            port: kind if isinstance(kind, InputSpec) else InputSpec(kind)
            for port, kind in (inputs or {}).items()
        }
        return ComponentSpec(
            name=name or "".join(part.title() for part in fn.__name__.split("_") if part),
            version=version,
            params=params,
            inputs=ports,
            outputs=dict(outputs or {}),
            executor=fn,
            description=description if description is not None else _first_line(fn.__doc__),
            user_code_params=tuple(user_code_params),
            code_files=tuple(code_files),
            may_halt=may_halt,
            external_fingerprint=external_fingerprint,
        )

    return wrap


def _first_line(text: str | None) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
