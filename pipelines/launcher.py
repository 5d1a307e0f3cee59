"""Run one node of a pipeline: resolve, execute, publish. Every runner goes through here.

1. Resolve the inputs from MLMD (``pipelines.resolve``).
2. Record a RUNNING execution with its INPUT events.
3. Give the executor staging directories beside ``<root>/<node>/<output>/<execution_id>/``.
4. Publish: rename staging into place, then in one MLMD transaction register the outputs as
   LIVE with OUTPUT events and mark the execution COMPLETE.
5. On any exception: mark the execution FAILED with the message and delete the staging
   directories. No artifact was registered, so nothing downstream can resolve partial output.
   The whole traceback goes to ``<root>/<node>/executions/<execution_id>/error.log``, whose
   path, and the traceback's last frames, are recorded on the execution.

Every component goes through the same steps, standard or the author's: the launcher knows
components only by their ``ComponentSpec``.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipelines.beam_mode import beam_args_for
from pipelines.caching.cache_key import cache_key
from pipelines.caching.user_code import code_file_fingerprints, user_code_fingerprint
from pipelines.component import (
    Artifact,
    ComponentDefinitionError,
    ComponentSpec,
    ExecutionContext,
    Executor,
    ExecutorResult,
    OutputPorts,
    executor_signature_problem,
    load_callable,
)
from pipelines.errors import LockgateError, UserCodeError
from pipelines.exit_gc import skip_gc_at_exit
from pipelines.failure import author_frame, write_error_log
from pipelines.fingerprint import fingerprint_dir
from pipelines.graph import Node, Pipeline
from pipelines.lineage.snapshot import record_on_run, write_snapshot
from pipelines.metadata.store import LineageStore
from pipelines.native_noise import heavy_imports_quieted
from pipelines.resolve import resolve_inputs
from pipelines.windows import WindowTooShort

Status = Literal["complete", "cached", "skipped", "halted", "failed"]
Progress = Callable[[float, float | None, str], None]


@dataclass
class NodeResult:
    node_id: str
    status: Status
    execution_id: int | None
    seconds: float
    message: str = ""
    reports: list[str] = field(default_factory=list)
    outputs: dict[str, list[Artifact]] = field(default_factory=dict)


class NodeFailed(LockgateError):
    """A node's executor raised. The execution is recorded FAILED; ``cause`` says why.

    ``log_path`` holds the whole traceback; ``author_frame`` is the deepest frame in the
    author's own code (``file:line in function``), when there is one.
    """

    def __init__(self, node_id: str, execution_id: int | None, cause: BaseException,
                 log_path: Path | None = None, config_line: str | None = None) -> None:
        self.node_id = node_id
        self.execution_id = execution_id
        self.cause = cause
        self.log_path = log_path
        self.author_frame = author_frame(cause)
        self.config_line = config_line  # where the node's entry is in the config
        reason = str(cause) if isinstance(cause, LockgateError) else (
            f"{type(cause).__name__}: {cause}"
        )
        super().__init__(f"node '{node_id}' failed: {reason}")


def prepare_heavy_runtime() -> None:
    """Ready this process for the heavy libraries; called before any executor loads."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFMA and TFT need Keras 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    skip_gc_at_exit()  # their heap is too big to garbage-collect on the way out


def executor_of(spec: ComponentSpec) -> Executor:
    """The spec's executor function, imported now if the spec names it by a string."""
    if callable(spec.executor):
        return spec.executor
    try:
        with heavy_imports_quieted():
            fn = load_callable(spec.executor)
    except (ImportError, AttributeError) as exc:
        raise ComponentDefinitionError(
            f"component '{spec.name}' names its executor {spec.executor}, which cannot be "
            f"loaded: {type(exc).__name__}: {exc}"
        ) from exc
    problem = executor_signature_problem(fn)
    if problem:
        raise ComponentDefinitionError(f"component '{spec.name}': {problem}")
    return fn


def launch(
    pipeline: Pipeline,
    node_id: str,
    run_id: str,
    *,
    store: LineageStore | None = None,
    log: logging.Logger | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> NodeResult:
    """Execute ``node_id`` for ``run_id`` and record it in MLMD. Safe to retry.

    With ``use_cache`` (and caching on for the node in the config), an earlier execution with
    the same cache key whose outputs are LIVE is reused and recorded as CACHED instead.
    """
    started = time.monotonic()
    node = pipeline.nodes[node_id]
    log = log or logging.getLogger(f"lockgate.{node_id}")
    store = store or LineageStore(pipeline.config.metadata)
    contexts = store.contexts(pipeline.name, run_id, node_id)
    abandoned = store.abandon_running(contexts, node_id)
    if abandoned:
        log.warning("marked earlier attempt(s) %s FAILED: their process died", abandoned)
        # A killed process leaves its staging behind; it was never published, so drop it.
        _remove(path for dead in abandoned for name in node.spec.outputs
                for path in _staging_of(pipeline, node, name, dead))

    try:
        inputs = resolve_inputs(store, contexts, node, run_id, pipeline=pipeline)
    except WindowTooShort as short:  # not a failure: the node waits for more data, visibly
        execution_id = store.start_execution(node.spec, node_id, run_id, contexts, {})
        message = f"not enough data yet: {short}"
        store.finish_execution(execution_id, contexts, state="COMPLETE", outcome="skipped",
                               message=message)
        log.info("%s: skipped: %s", node_id, message)
        return NodeResult(node_id, "skipped", execution_id, time.monotonic() - started,
                          message=message)
    key = node_cache_key(pipeline, node, inputs)
    # For `lockgate lineage`: the config this ran with and each code file the key hashed.
    try:
        snapshot = write_snapshot(pipeline.config)
    except OSError as exc:  # lineage bookkeeping never fails a node; say what is missing
        log.warning("config snapshot not written (lineage will lack it): %s", exc)
        snapshot = {}
    record_on_run(store, contexts, snapshot,
                  {n: sorted(pipeline.nodes[n].upstream) for n in pipeline.order})
    lineage: dict[str, object] = dict(snapshot)
    code = code_file_fingerprints(_code_paths(pipeline, node))
    if code:
        lineage["code_files"] = code
    if key and use_cache and _caching_on(pipeline, node):
        hit = store.find_cached(contexts, node.spec, key)
        if hit is not None:
            source, reused = hit
            execution_id = store.record_cached(
                node.spec, node_id, run_id, contexts, inputs, reused, key, source
            )
            log.info("%s: cached, reusing the outputs of execution %d", node_id, source)
            return NodeResult(node_id, "cached", execution_id, time.monotonic() - started,
                              message=f"reused execution {source}", outputs=reused)
    execution_id = store.start_execution(node.spec, node_id, run_id, contexts, inputs, key)
    staging = _staging_dirs(pipeline, node, execution_id)
    beam_args = beam_args_for(pipeline.config.beam_args, inputs)
    outputs = OutputPorts(node.spec, {
        name: Artifact(type=kind, uri=str(staging[name]))
        for name, kind in node.spec.outputs.items()
    })
    context = ExecutionContext(
        pipeline_name=pipeline.name,
        pipeline_root=pipeline.config.root,
        node_id=node_id,
        run_id=run_id,
        params=node.entry.params,
        inputs=inputs,
        outputs=outputs,
        beam_args=beam_args,
        config_dir=pipeline.config.config_dir,
        log=log,
        progress=progress or (lambda done, total, what: None),
        allow_outside_home=pipeline.config.pipeline.allow_outside_home,
    )
    log.info("%s: execution %d started", node_id, execution_id)
    try:
        prepare_heavy_runtime()
        result = _checked(node, executor_of(node.spec)(context), staging)
        published: dict[str, list[Artifact]] = {}
        if result.outcome == "skipped":
            _remove(staging.values())
        else:
            published = _publish(node, staging, outputs, execution_id, inputs)
            _point_at_published(result, staging, outputs)
        state = "FAILED" if result.outcome == "halted" else "COMPLETE"
        store.finish_execution(
            execution_id, contexts, state=state, outcome=result.outcome,
            message=result.message, outputs=published,
            properties={**lineage, **({"reports": result.reports} if result.reports else {}),
                        **result.properties},
        )
    except BaseException as exc:
        _remove(staging.values())
        log_path = write_error_log(execution_dir(pipeline, node, execution_id), exc)
        failure = NodeFailed(node_id, execution_id, exc, log_path,
                             pipeline.config.where(node_id))
        store.finish_execution(
            execution_id, contexts, state="FAILED", outcome="failed", message=str(failure),
            properties={**lineage, "log_path": str(log_path), "traceback": _tail(exc),
                        "author_frame": failure.author_frame or ""},
        )
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise failure from exc
    return NodeResult(
        node_id=node_id,
        status=result.outcome,
        execution_id=execution_id,
        seconds=time.monotonic() - started,
        message=result.message,
        reports=result.reports,
        outputs=published,
    )


def _checked(node: Node, result: object, staging: dict[str, Path]) -> ExecutorResult:
    """The executor kept its side of the contract: a result, and a file in every output."""
    spec = node.spec
    where = spec.module_file or str(spec.executor)
    if not isinstance(result, ExecutorResult):
        raise UserCodeError(node.id, where, TypeError(
            f"the executor of component '{spec.name}' returned {type(result).__name__}, not an "
            "ExecutorResult; end it with `return ExecutorResult(...)`"
        ))
    if result.outcome == "halted" and not spec.may_halt:
        raise ComponentDefinitionError(
            f"component '{spec.name}' halted the run, but its spec does not say it may; add "
            "may_halt=True so every later node waits for it"
        )
    if result.outcome != "skipped":
        empty = [name for name, path in staging.items() if not any(path.iterdir())]
        if empty:
            raise UserCodeError(node.id, where, ValueError(
                f"component '{spec.name}' declares output(s) {', '.join(empty)} but wrote "
                "nothing there; write each output's files under ctx.outputs[name].path, or "
                "remove it from the spec's outputs"
            ))
    return result


def execution_dir(pipeline: Pipeline, node: Node, execution_id: int) -> Path:
    """Where an execution keeps what is not an artifact: its error log."""
    return pipeline.config.root / node.id / "executions" / str(execution_id)


def _tail(exc: BaseException, limit: int = 4000) -> str:
    """The last ``limit`` characters of the traceback: the frames nearest the error."""
    text = "".join(traceback.format_exception(exc))
    return text[-limit:]


def node_cache_key(pipeline: Pipeline, node: Node, inputs: dict[str, list[Artifact]]) -> str:
    """The node's cache key, or "" when its outputs depend on something it cannot see."""
    spec = node.spec
    external = ""
    if spec.external_fingerprint:
        fingerprint = load_callable(spec.external_fingerprint)
        external = str(fingerprint(node.entry.params, pipeline.config.config_dir))
    elif not spec.inputs:
        return ""
    params = node.entry.params.model_dump(mode="json")
    if spec.external_fingerprint:
        # The span actually read is in the fingerprint; which param pinned it, or the window
        # later nodes read, changes nothing this node writes. So a span ingested by yesterday's
        # run is a hit for today's window, whether it was pinned or the newest then.
        for name in filter(None, (spec.span_param, spec.window_param)):
            params.pop(name, None)
    code = user_code_fingerprint(_code_paths(pipeline, node))
    return cache_key(
        component=spec.name,
        version=spec.version,
        params=params,
        inputs={
            name: [(a.id or 0, str(a.properties.get("fingerprint", ""))) for a in artifacts]
            for name, artifacts in inputs.items()
        },
        code_fingerprint=code,
        external_fingerprint=external,
    )


def _code_paths(pipeline: Pipeline, node: Node) -> list[Path]:
    """The code files the cache key hashes: user-code params, and an author's component."""
    spec = node.spec
    params = node.entry.params.model_dump(mode="json")
    paths = [
        pipeline.config.resolve_path(params[name])
        for name in spec.user_code_params if params.get(name)
    ]
    if spec.module_file:  # the author's component: its own code and the files it declares
        module = Path(spec.module_file)
        paths += [module, *(module.parent / extra for extra in spec.code_files)]
    return paths


def _caching_on(pipeline: Pipeline, node: Node) -> bool:
    return pipeline.config.cache if node.entry.cache is None else node.entry.cache


def _staging_dirs(pipeline: Pipeline, node: Node, execution_id: int) -> dict[str, Path]:
    """A fresh staging dir per output. The random part keeps two processes apart even when
    their executions share an id (two stores, or a replaced one, writing under one root)."""
    token = secrets.token_hex(4)
    dirs = {}
    for name in node.spec.outputs:
        path = _staging_path(pipeline, node, name, execution_id, token)
        path.mkdir(parents=True)
        dirs[name] = path
    return dirs


def _staging_path(pipeline: Pipeline, node: Node, output: str, execution_id: int,
                  token: str) -> Path:
    """Beside the final ``<root>/<node>/<output>/<execution_id>/``, so publishing is a rename."""
    return pipeline.config.root / node.id / output / f".staging-{execution_id}-{token}"


def _staging_of(pipeline: Pipeline, node: Node, output: str, execution_id: int) -> list[Path]:
    """The staging dirs a (dead) attempt of ``execution_id`` left for ``output``."""
    pattern = _staging_path(pipeline, node, output, execution_id, "*")
    return list(pattern.parent.glob(pattern.name))


def _publish(
    node: Node,
    staging: dict[str, Path],
    outputs: dict[str, Artifact],
    execution_id: int,
    inputs: dict[str, list[Artifact]],
) -> dict[str, list[Artifact]]:
    """Rename each staging dir to its final URI and describe the artifact for MLMD."""
    published = {}
    span = _input_span(inputs)
    for name, artifact in outputs.items():
        final = _rename_free(staging[name], str(execution_id))
        artifact.uri = str(final)
        artifact.properties.setdefault("fingerprint", fingerprint_dir(final))
        artifact.properties.setdefault("producer_node", node.id)
        if span is not None:
            artifact.properties.setdefault("span", span)
        published[name] = [artifact]
    return published


def _rename_free(staging: Path, name: str) -> Path:
    """Rename ``staging`` to ``name`` beside it, or to ``name-2``, ``name-3``... when that is
    taken: a deleted or replaced ML Metadata store counts execution ids from 1 again, and the
    files of its earlier artifacts must never be touched. rename(2) refuses a non-empty target."""
    for attempt in range(1, 1000):
        final = staging.with_name(name if attempt == 1 else f"{name}-{attempt}")
        try:
            os.rename(staging, final)
            return final
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
    raise OSError(f"no free name for {name} beside {staging}")


def _point_at_published(result: ExecutorResult, staging: dict[str, Path],
                        outputs: dict[str, Artifact]) -> None:
    """Executors only know their staging dirs; paths they report must name the published ones."""
    for name, path in staging.items():
        final = outputs[name].uri
        result.message = result.message.replace(str(path), final)
        result.reports = [r.replace(str(path), final) for r in result.reports]


def _input_span(inputs: dict[str, list[Artifact]]) -> int | None:
    """Artifacts derived from one span of data carry that span, for drift comparisons."""
    spans = {a.properties.get("span") for arts in inputs.values() for a in arts}
    spans.discard(None)
    return spans.pop() if len(spans) == 1 else None


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
