"""The Airflow operator that runs one Lockgate node through the shared launcher.

A task carries names only: the config path and the node id. The pipeline run is the Airflow
``run_id``, so every task of one DAG run records into the same MLMD ``pipeline_run`` context and
resolves its inputs from there; nothing moves through XCom.

How a node's outcome maps onto Airflow task states:

============================  ===========================  ================================
launcher outcome              Airflow                      why
============================  ===========================  ================================
complete / cached             success                      (a new push adds an Asset event)
halted (validator anomalies)  AirflowFailException         bad data: retrying cannot help
skipped (unblessed model)     AirflowSkipException         visible, downstream skipped too
NodeFailed: data, config or   AirflowFailException         deterministic: no retry
user-code error, or a
missing upstream input
anything else                 re-raised                    Airflow retries; the launcher
                                                           fails the dead attempt and
                                                           starts clean
============================  ===========================  ================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAlias, BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from pipelines.graph import Pipeline
    from pipelines.launcher import NodeResult


class LockgateNodeOperator(BaseOperator):
    """Run node ``pipeline_node`` of the pipeline in ``config_path`` for this DAG run.

    ``__init__`` stores the two names and nothing else: the scheduler builds this object on
    every parse, so the config is only read when the task runs. (``node_id`` is taken: Airflow
    operators already have it, as an alias of ``task_id``.)
    """

    template_fields: Sequence[str] = ("config_path", "pipeline_node")
    ui_color = "#dbe8f7"

    def __init__(self, *, config_path: str, pipeline_node: str, **kwargs: Any) -> None:
        kwargs.setdefault("do_xcom_push", False)  # results live in MLMD, not in XCom
        super().__init__(**kwargs)
        self.config_path = config_path
        self.pipeline_node = pipeline_node

    def execute(self, context: Context) -> None:
        from pipelines.errors import ConfigError

        # A stdlib logger: the launcher and executors use logging's API, and Airflow's task
        # runner routes stdlib logging into this task's log.
        log = logging.getLogger(f"lockgate.task.{self.pipeline_node}")
        quiet_library_loggers()
        try:
            pipeline = load_pipeline(self.config_path)
        except ConfigError as exc:  # the file changed since the DAG was parsed
            log.error("the config %s is invalid:\n%s", self.config_path, exc)
            raise AirflowFailException(str(exc)) from exc
        if self.pipeline_node not in pipeline.nodes:  # renamed since the DAG was parsed
            raise AirflowFailException(
                f"{self.config_path} has no node '{self.pipeline_node}' any more (nodes: "
                f"{', '.join(pipeline.order)}); the DAG changes at the next parse, then "
                "trigger a new run"
            )
        run_id = context["run_id"]
        log.info("pipeline %s, node %s, run %s (config %s)", pipeline.name, self.pipeline_node,
                 run_id, self.config_path)
        pipeline = pin_run_span(pipeline, run_id, context, log)
        try:
            if self.pipeline_node in {n.id for n in pipeline.span_readers()}:
                prepare_older_spans(pipeline, run_id, log)
            result = run_node(pipeline, self.pipeline_node, run_id, log)
        finally:  # complete, cached, halted, skipped or failed: the index shows it
            log_reports(pipeline, run_id, log)
        if self.outlets:
            _describe_outlet_events(context, self.outlets, pipeline.name, result, run_id)


# Libraries whose INFO lines bury the task's own (Beam logs ~100 type-hint notes per Beam step).
# `lockgate run` shows them at WARNING too; a level set explicitly elsewhere is kept.
NOISY_LOGGERS = ("apache_beam", "absl", "tensorflow", "tensorflow_transform",
                 "tensorflow_model_analysis", "tensorflow_data_validation", "tfx_bsl")


def quiet_library_loggers() -> None:
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def load_pipeline(config_path: str) -> Pipeline:
    """The pipeline graph of ``config_path``, read when the task runs (never at parse time)."""
    from pipelines.config.load import parse_config
    from pipelines.graph import build_pipeline

    return build_pipeline(parse_config(config_path))


def pin_run_span(pipeline: Pipeline, run_id: str, context: Context,
                 log: logging.Logger) -> Pipeline:
    """The pipeline pinned to this DAG run's span, so every task reads the same one: the span
    recorded on the run by its first task, else the day its data interval starts
    (``airflow.span: data_interval``), else a window's newest span; unpinned otherwise."""
    from pipelines.metadata.store import LineageStore
    from pipelines.runner import windowed_span
    from pipelines.span_dates import span_of_date

    store = LineageStore(pipeline.config.metadata)
    span = store.run_span(pipeline.name, run_id)
    if span is None and pipeline.config.airflow.span == "data_interval":
        start = context.get("data_interval_start")
        if start is None:
            raise AirflowFailException(
                "airflow.span is data_interval, but this DAG run has no data interval (a "
                "manual run without a logical date); trigger it for a date, or backfill")
        span = span_of_date(start.date())
        log.info("data interval starts %s: span %d", start.date().isoformat(), span)
    if span is None:
        span = windowed_span(pipeline)
    if span is None:
        return pipeline
    store.pin_run_span(pipeline.name, run_id, span)
    return pipeline.with_span(span)


def prepare_older_spans(pipeline: Pipeline, run_id: str, log: logging.Logger) -> None:
    """Before the span reader's own span: the older spans the run compares with or reads in
    its window, each in a run of its own, as ``lockgate run`` does (pipelines/runner.py)."""
    from pipelines.metadata.store import LineageStore
    from pipelines.runner import run_pipeline, spans_to_prepare

    for span, needed in spans_to_prepare(LineageStore(pipeline.config.metadata), pipeline):
        prepared = run_pipeline(pipeline.with_span(span).subset(needed), f"{run_id}.span-{span}",
                                prepare_older_spans=False)
        log.info("prepared span %d first (run %s): %s", span, prepared.run_id,
                 ", ".join(f"{r.node_id} {r.status}" for r in prepared.results))
        if prepared.failure is not None:
            raise prepared.failure


def log_reports(pipeline: Pipeline, run_id: str, log: logging.Logger) -> None:
    """Write the run's report index (pipelines/reports/) and log its path; never raise."""
    try:
        from pipelines.reports import write_run_reports

        log.info("reports: %s", write_run_reports(pipeline, run_id).index)
    except Exception as exc:  # the task's outcome stands whatever happens to its reports
        log.warning("reports not written: %s: %s", type(exc).__name__, exc)


def run_node(
    pipeline: Pipeline, node_id: str, run_id: str, log: logging.Logger
) -> NodeResult:
    """Launch one node and turn its outcome into the Airflow task state (see the module doc)."""
    from pipelines.launcher import NodeFailed, launch
    from pipelines.metadata.connection import cannot_run

    problem = cannot_run(pipeline)
    if problem:  # a retry cannot fix it
        raise AirflowFailException(problem)
    progress = ThrottledProgress(log, node_id)
    try:
        result = launch(pipeline, node_id, run_id, log=log, progress=progress)
    except NodeFailed as failure:
        if failure.author_frame:
            log.error("at %s", failure.author_frame)
        if failure.config_line:
            log.error("node defined at %s", failure.config_line)
        if failure.log_path:
            log.error("full traceback: %s", failure.log_path)
        if _deterministic(failure.cause):
            log.error("%s\nnot retrying: the same inputs would fail the same way", failure)
            raise AirflowFailException(str(failure)) from failure
        log.error("%s; Airflow may retry this task", failure)
        raise
    except Exception as exc:
        if _deterministic(exc):  # raised before the executor ran, e.g. a missing input
            log.error("%s", exc)
            raise AirflowFailException(str(exc)) from exc
        raise
    _log_result(log, result)
    if result.status == "halted":
        # The message lists the anomalies; make sure the report paths are in it too.
        reports = [r for r in result.reports if r not in result.message]
        raise AirflowFailException(
            f"{node_id} halted the run: {result.message}"
            + "".join(f"\n  report: {r}" for r in reports)
        )
    if result.status == "skipped":
        raise AirflowSkipException(f"{node_id} skipped: {result.message}")
    return result


def _deterministic(exc: BaseException) -> bool:
    """Bad data, config or user code, or a missing upstream input: a retry would fail alike."""
    from pipelines.errors import ConfigError, DataError, UserCodeError
    from pipelines.resolve import MissingInputError

    return isinstance(exc, DataError | ConfigError | UserCodeError | MissingInputError)


def _log_result(log: logging.Logger, result: NodeResult) -> None:
    level = logging.WARNING if result.status in ("halted", "skipped") else logging.INFO
    log.log(level, "%s: %s in %.1fs (execution %s)%s", result.node_id, result.status,
            result.seconds, result.execution_id, f": {result.message}" if result.message else "")
    for report in result.reports:
        log.log(level, "report: %s", report)
    for port, artifacts in result.outputs.items():
        for artifact in artifacts:
            log.info("output %s: %s (artifact %s)", port, artifact.uri, artifact.id)


def _describe_outlet_events(
    context: Context, outlets: Sequence[Any], pipeline: str, result: NodeResult, run_id: str
) -> None:
    """Add an event to the pushed-model Asset, through the Pusher's alias outlet, only when a
    new version was pushed (``assets.py``); its ``extra`` says where the model landed."""
    from pipelines.airflow.assets import pushed_model_asset

    artifacts = [a for arts in result.outputs.values() for a in arts]
    if result.status != "complete" or not artifacts:
        return  # a cache hit pushed nothing
    pushed = artifacts[0]
    if not pushed.properties.get("new_version"):
        return  # the model was already serving
    extra = {
        **{k: pushed.properties.get(k) for k in ("model_name", "version", "path", "new_version")},
        "uri": pushed.uri,
        "status": result.status,
        "execution_id": result.execution_id,
        "run_id": run_id,
    }
    asset = pushed_model_asset(pipeline, str(pushed.properties.get("model_name")))
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            context["outlet_events"][outlet].add(
                asset, extra={k: v for k, v in extra.items() if v is not None})


class ThrottledProgress:
    """The launcher's progress callback, logged at most every ``interval`` seconds.

    Executors may report hundreds of times (training steps); a task log needs a line when the
    step changes, when it finishes, and a heartbeat in between.
    """

    def __init__(self, log: logging.Logger, node_id: str, interval: float = 10.0) -> None:
        self.log = log
        self.node_id = node_id
        self.interval = interval
        self._last_time = float("-inf")
        self._last: tuple[str, bool] = ("", False)

    def __call__(self, done: float, total: float | None, what: str) -> None:
        now = time.monotonic()
        key = (what, total is not None and done >= total)
        if key == self._last and now - self._last_time < self.interval:
            return
        self._last_time, self._last = now, key
        if total:
            self.log.info("%s: %s %g/%g (%.0f%%)", self.node_id, what, done, total,
                          100.0 * done / total)
        else:
            self.log.info("%s: %s", self.node_id, what)
