"""Offline HTML reports of a run: an index, statistics, evaluation and lineage pages.

Each page is one self-contained file that needs no network. ``write_run_reports`` writes a
run's index and the pages it links; TFDV and TFMA are imported only to make those pages.
"""

from pipelines.reports.index import RunReports, report_dir, write_run_reports

__all__ = ["RunReports", "report_dir", "write_run_reports"]
