"""Rich rendering for the CLI: tables, sparklines and a progress reporter (on stderr)."""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console()
err = Console(stderr=True)
_BARS = "▁▂▃▄▅▆▇█"


def fmt(x: object, digits: int = 4) -> str:
    """A number for a table cell; NaN as an em dash."""
    if isinstance(x, float):
        return "—" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def sparkline(values: list[float]) -> str:
    """A one-line chart of ``values`` (NaNs as spaces)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(" " if math.isnan(v) else _BARS[round((v - lo) / span * (len(_BARS) - 1))] for v in values)


def frame_table(frame: pd.DataFrame, title: str | None = None, styles: dict[str, str] | None = None) -> Table:
    """A rich table with one column per frame column."""
    table = Table(title=title, header_style="bold")
    for col in frame.columns:
        table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(frame[col]) else "left")
    for row in frame.itertuples(index=False):
        cells = [fmt(v) for v in row]
        table.add_row(*cells, style=(styles or {}).get(str(row[0]), None))
    return table


def print_changes(series: list[dict]) -> None:
    """Segments and incidents of each series (from :func:`pipeline.triggers.metric_history.history_changes`)."""
    for doc in series:
        out.print(f"[bold]{doc['model']} · {doc['dataset']} · {doc['metric']} v{doc['metric_version']}[/]", highlight=False)
        for seg in doc["segments"]:
            out.print(f"  segment {seg['started_at'][:16].replace('T', ' ')}  {seg['first_run']} … {seg['last_run']}  "
                      f"{seg['points']:>4} points  mean {seg['mean']:.4f}", highlight=False)
        for e in doc["events"]:
            out.print(f"  incident {e['incident_id']} {e['state']:<7} at {e['run_id']}: {e['reason']}", highlight=False)
        incident = doc["open_incident"]
        if incident:
            out.print(f"  [bold red]open incident[/] {incident['incident_id']} since {incident['started_at'][:16].replace('T', ' ')} "
                      f"(run {incident['change_run_id']}): level {incident['level']:.4f} vs reference "
                      f"{incident['reference_mean']:.4f}", highlight=False)
        else:
            out.print("  no open incident" + (f" ({doc['reason']})" if doc["reason"] else ""), highlight=False)


class RichProgress:
    """Shows inference and scoring progress as rich bars on stderr."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=err, transient=False,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, stage: str, done: int, total: int, note: str = "") -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self.progress.add_task(stage, total=total, note="")
        self.progress.update(self._tasks[stage], completed=done, total=total, note=note)
