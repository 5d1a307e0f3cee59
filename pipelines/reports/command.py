"""``lockgate report RUN_ID [--pipeline P] [--open]``: a run's reports, written on demand."""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path

from pipelines.errors import ConfigError, LockgateError
from pipelines.graph import Pipeline

CONFIG_DIR_ENV = "LOCKGATE_CONFIG_DIR"


class ReportNotFound(LockgateError):
    """No config names a pipeline that has the run."""

    exit_code = 2


def report(run_id: str, pipeline: str | None = None, open_browser: bool = False) -> int:
    """Write the run's index and pages, print the index path, and open it if asked."""
    from pipelines.metadata.store import LineageStore
    from pipelines.reports import write_run_reports

    candidates = _candidates(pipeline)
    for found in candidates:
        store = LineageStore(found.config.metadata)
        if store.run_exists(found.name, run_id):
            index = write_run_reports(found, run_id, store).index
            print(index)
            if open_browser:
                webbrowser.open(index.as_uri())
            return 0
    names = ", ".join(sorted({c.name for c in candidates})) or "none"
    raise ReportNotFound(f"no run '{run_id}' in the pipelines looked at ({names}); name the "
                         "config with --pipeline")


def _candidates(pipeline: str | None) -> list[Pipeline]:
    """The pipelines ``--pipeline`` names (a config file, or a pipeline or file name in the
    config folder), or every valid config in that folder."""
    from pipelines.config.load import parse_config
    from pipelines.graph import build_pipeline

    if pipeline and Path(pipeline).is_file():
        return [build_pipeline(parse_config(Path(pipeline)))]
    folder = Path(os.environ.get(CONFIG_DIR_ENV) or "configs")
    found = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            built = build_pipeline(parse_config(path))
        except ConfigError:
            continue  # `lockgate validate` reports broken configs; here they have no runs
        if pipeline in (None, built.name, path.stem):
            found.append(built)
    if pipeline and not found:
        raise ReportNotFound(f"--pipeline {pipeline}: no such config file, and no config in "
                             f"{folder} names that pipeline")
    return found
