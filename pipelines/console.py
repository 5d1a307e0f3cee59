"""What ``lockgate run`` shows: a line per node, a progress bar for long steps, a summary."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.component import load_callable
from pipelines.errors import LockgateError
from pipelines.graph import Pipeline, build_pipeline
from pipelines.launcher import NodeResult
from pipelines.launcher import Progress as ProgressFn
from pipelines.loading import load_config
from pipelines.runner import RunNotFound, RunSummary, new_run_id, run_pipeline

STYLE = {"complete": "green", "cached": "cyan", "skipped": "yellow", "halted": "red"}


def run_with_console(
    config_path: Path, run_id: str | None, resume: bool, use_cache: bool = True,
    span: int | None = None, spans: tuple[int, int] | None = None,
) -> int:
    """``lockgate run``: one run, or with ``spans`` one run per available span, oldest first,
    stopping at the first that does not succeed."""
    console = Console(stderr=False, highlight=False)
    # Missing input data fails here, with its config line, rather than in ExampleGen; a resumed
    # run may have read its data already.
    pipeline = build_pipeline(load_config(config_path, require_data=not resume))
    _quiet_libraries(console)
    if spans is None:
        return _run_once(console, pipeline, config_path, run_id, resume, use_cache, span)
    chosen = [s for s in available_spans(pipeline) if spans[0] <= s <= spans[1]]
    if not chosen:
        raise RunNotFound(f"no span in {spans[0]}..{spans[1]} exists for {pipeline.name}; "
                          f"the spans found are {available_spans(pipeline) or 'none'}")
    base = run_id or new_run_id()
    for number in chosen:
        console.rule(f"span {number}")
        code = _run_once(console, pipeline, config_path, f"{base}-span-{number}", False,
                         use_cache, number)
        if code:
            console.print(f"[red bold]stopped[/] at span {number}; later spans were not run")
            return code
    console.print(f"[green bold]OK[/] spans {', '.join(map(str, chosen))}")
    return 0


def available_spans(pipeline: Pipeline) -> list[int]:
    """The spans the pipeline's span-reading node finds now, oldest first."""
    readers = [n for n in pipeline.span_readers() if n.spec.spans]
    if len(readers) != 1:
        raise LockgateError(f"{pipeline.name} needs exactly one node that reads spans to run "
                            f"--spans; it has {', '.join(n.id for n in readers) or 'none'}")
    spans = readers[0].spec.spans
    assert spans is not None
    found = load_callable(spans)(readers[0].entry.params, pipeline.config.config_dir)
    return list(found)


def _run_once(
    console: Console, pipeline: Pipeline, config_path: Path, run_id: str | None, resume: bool,
    use_cache: bool, span: int | None,
) -> int:
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )

    def on_start(node_id: str) -> ProgressFn:
        for old in progress.tasks:
            progress.remove_task(old.id)
        task = progress.add_task(f"{node_id}: starting", total=None)

        def update(done: float, total: float | None, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{node_id}: {what}")

        return update

    def on_result(result: NodeResult) -> None:
        style = STYLE.get(result.status, "white")
        line = f"[{style}]{result.status:>8}[/] {result.node_id:<20} {result.seconds:6.1f}s"
        if result.status in ("skipped", "halted") and result.message:
            line += f"  {result.message.splitlines()[0]}"
        console.print(line)
        for report in result.reports:
            console.print(f"{'':>9} report: {report}")

    console.print(f"[bold]{pipeline.name}[/]: {len(pipeline.order)} nodes"
                  + (f", span {span}" if span is not None else ""))
    with progress:
        summary = run_pipeline(pipeline, run_id, resume=resume, use_cache=use_cache, span=span,
                               on_start=on_start, on_result=on_result)
    for prepared in summary.prepared:
        console.print(f"[cyan]{'prepared':>8}[/] {', '.join(r.node_id for r in prepared.results)}"
                      f" for an older span first (run {prepared.run_id}): this span's drift "
                      "is checked against it, or the span window reads it")
    if summary.skipped:
        console.print(f"[yellow]{'skipped':>8}[/] {', '.join(summary.skipped)}: downstream of "
                      "a skipped node")
    _print_summary(console, summary, config_path)
    _print_reports(console, pipeline, summary.run_id)
    return 0 if summary.ok else 1


def _print_reports(console: Console, pipeline: Pipeline, run_id: str) -> None:
    """Write the run's offline report index (pipelines/reports/) and say where it is."""
    from pipelines.reports import write_run_reports

    try:
        index = write_run_reports(pipeline, run_id).index
    except Exception as exc:  # the run's outcome stands whatever happens to its reports
        console.print(f"[yellow]reports not written[/]: {type(exc).__name__}: {exc}",
                      markup=True)
        return
    console.print(f"reports: {index}", markup=False, soft_wrap=True)


def _print_summary(console: Console, summary: RunSummary, config_path: Path) -> None:
    if summary.kept:
        console.print(f"[cyan]{'kept':>8}[/] {', '.join(summary.kept)}: unchanged since they "
                      "ran in this run (same inputs, params and code)")
    table = Table(title=f"run {summary.run_id}", show_edge=False)
    for column in ("node", "status", "seconds", "execution"):
        table.add_column(column)
    for result in summary.results:
        table.add_row(result.node_id, result.status, f"{result.seconds:.1f}",
                      str(result.execution_id))
    console.print(table)
    from pipelines.lineage.summary import gate_lines

    for line in gate_lines((r.node_id, r.status, r.message, r.outputs) for r in summary.results):
        console.print(line, markup=False)
    resume = f"lockgate run {shlex.quote(str(config_path))} --resume {summary.run_id}"
    if summary.failure:
        failure = summary.failure
        console.print(f"[red bold]FAILED[/] at node [bold]{failure.node_id}[/] "
                      f"(execution {failure.execution_id}):")
        cause = failure.cause
        reason = str(cause) if isinstance(cause, LockgateError) else (
            f"{type(cause).__name__}: {cause}")
        console.print(reason, markup=False)
        if failure.author_frame:
            console.print(f"  at {failure.author_frame}", markup=False)
        if failure.config_line:
            console.print(f"  node defined at {failure.config_line}", markup=False)
        if failure.log_path:
            console.print(f"Full traceback: {failure.log_path}", markup=False)
        console.print(f"Fix the cause, then re-run what is left with:\n  {resume}")
    elif summary.halted:
        halted = summary.halted
        console.print(f"[red bold]HALTED[/] at [bold]{halted.node_id}[/]: the data is not fit "
                      "to train on.")
        console.print(halted.message, markup=False)
        console.print(f"Review the report, fix the data or the schema, then run again:\n  "
                      f"{resume}")
        console.print("Or, if the data is right, accept these anomalies (audited) and resume:"
                      f"\n  lockgate accept-anomalies {shlex.quote(str(config_path))} "
                      f"{summary.run_id} --reason \"...\"", markup=False)
    else:
        console.print(f"[green bold]OK[/] {summary.pipeline} in {summary.seconds:.1f}s")


class _NodeFormatter(logging.Formatter):
    """``node: message``: Rich already shows the level, so not ``INFO:lockgate.node:...``."""

    def format(self, record: logging.LogRecord) -> str:
        source = record.name.removeprefix("lockgate.")
        message = record.getMessage()
        if not message.startswith(f"{source}:"):
            message = f"{source}: {message}"
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        return message


def _quiet_libraries(console: Console) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False)
    handler.setFormatter(_NodeFormatter())  # basicConfig would set logging's default format
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("lockgate").setLevel(logging.INFO)
