"""What ``lockgate run`` shows: a line per node, a progress bar for long steps, a summary."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.config import load_config
from pipelines.graph import build_pipeline
from pipelines.launcher import NodeResult
from pipelines.launcher import Progress as ProgressFn
from pipelines.runner import RunSummary, run_pipeline

STYLE = {"complete": "green", "cached": "cyan", "skipped": "yellow", "halted": "red"}


def run_with_console(
    config_path: Path, run_id: str | None, resume: bool, use_cache: bool = True
) -> int:
    console = Console(stderr=False, highlight=False)
    pipeline = build_pipeline(load_config(config_path))
    _quiet_libraries(console)
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

    console.print(f"[bold]{pipeline.name}[/]: {len(pipeline.order)} nodes")
    with progress:
        summary = run_pipeline(pipeline, run_id, resume=resume, use_cache=use_cache,
                               on_start=on_start, on_result=on_result)
    _print_summary(console, summary, config_path)
    return 0 if summary.ok else 1


def _print_summary(console: Console, summary: RunSummary, config_path: Path) -> None:
    table = Table(title=f"run {summary.run_id}", show_edge=False)
    for column in ("node", "status", "seconds", "execution"):
        table.add_column(column)
    for result in summary.results:
        table.add_row(result.node_id, result.status, f"{result.seconds:.1f}",
                      str(result.execution_id))
    console.print(table)
    resume = f"lockgate run {shlex.quote(str(config_path))} --resume {summary.run_id}"
    if summary.failure:
        failure = summary.failure
        console.print(f"[red bold]FAILED[/] at node [bold]{failure.node_id}[/] "
                      f"(execution {failure.execution_id}):")
        console.print(str(failure.cause), markup=False)
        console.print(f"Fix the cause, then re-run what is left with:\n  {resume}")
    elif summary.halted:
        halted = summary.halted
        console.print(f"[red bold]HALTED[/] at [bold]{halted.node_id}[/]: the data is not fit "
                      "to train on.")
        console.print(halted.message, markup=False)
        console.print(f"Review the report, fix the data or the schema, then run again:\n  "
                      f"{resume}")
    else:
        console.print(f"[green bold]OK[/] {summary.pipeline} in {summary.seconds:.1f}s")


def _quiet_libraries(console: Console) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("lockgate").setLevel(logging.INFO)
