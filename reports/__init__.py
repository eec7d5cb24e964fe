"""Reports: pure rendering of already-computed run data into one self-contained HTML file."""

from reports.compare import compare_runs
from reports.data import ReportData
from reports.render import render_report

__all__ = ["ReportData", "compare_runs", "render_report"]
