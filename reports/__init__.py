"""Reports: pure rendering of already-computed run data into one self-contained HTML file.

``render_report`` and ``compare_runs`` are imported on first use (PEP 562): the
renderer brings Plotly, which a run needs only when it writes its report, and
``reports.card``/``reports.data`` are read on every run's start-up path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reports.data import ReportData

if TYPE_CHECKING:
    from reports.compare import compare_runs
    from reports.render import render_report

__all__ = ["ReportData", "compare_runs", "render_report"]


def __getattr__(name: str) -> Any:
    if name == "render_report":
        from reports.render import render_report

        return render_report
    if name == "compare_runs":
        from reports.compare import compare_runs

        return compare_runs
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
