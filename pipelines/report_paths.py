"""Where a run's offline HTML pages live. Stdlib only: ``lockgate show`` names them without
importing the report writers (or pydantic)."""

from __future__ import annotations

import re
from pathlib import Path

RUN_INDEX = "index.html"  # in run_reports_dir: the page that links the run's others


def run_reports_dir(root: Path, run_id: str) -> Path:
    """``<root>/reports/<run_id>``: a run's pages, the run id made safe for a file name
    (Airflow's hold ``:`` and ``+``)."""
    return root / "reports" / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
