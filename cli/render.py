"""Rich rendering for the CLI: tables, sparklines and a progress reporter (on stderr)."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

out = Console()
err = Console(stderr=True)


def reattach_consoles() -> None:
    """Detect the terminal again (tty, colours, width) for ``out`` and ``err``.

    Rich decides at construction; a warm spare of ``vigil serve`` (:mod:`cli.warm`)
    imports this module before it holds its client's stdout and stderr.
    """
    out.__init__()  # type: ignore[misc]
    err.__init__(stderr=True)  # type: ignore[misc]

_BARS = "▁▂▃▄▅▆▇█"


def fmt(x: object, digits: int = 4) -> str:
    """A number for a table cell; NaN as an em dash."""
    if isinstance(x, float):
        return "—" if math.isnan(x) else f"{x:.{digits}f}"
    return str(x)


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, with an "s" unless there is exactly one.

    Example:
        >>> plural(1, "dataset"), plural(3, "dataset")
        ('1 dataset', '3 datasets')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def with_units(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``unit`` column after ``value``: shadow latencies are in milliseconds, other metrics unitless."""
    units = ["ms" if str(m).startswith("latency_") else "" for m in frame["metric"]]
    if not any(units):
        return frame
    shown = frame.copy()
    shown.insert(list(frame.columns).index("value") + 1, "unit", units)
    return shown


def sparkline(values: list[float]) -> str:
    """A one-line chart of ``values`` (NaNs as spaces)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(" " if math.isnan(v) else _BARS[round((v - lo) / span * (len(_BARS) - 1))] for v in values)


ID_COLUMNS = ("run_id", "run", "first_run", "last_run", "change_run_id")


def frame_table(
    frame: pd.DataFrame,
    title: str | None = None,
    styles: dict[str, str] | None = None,
    *,
    ids: tuple[str, ...] = ID_COLUMNS,
    droppable: tuple[str, ...] = (),
    width: int | None = None,
) -> Table:
    """A compact rich table with one column per frame column, made to fit ``width`` (default the terminal's).

    Columns named in ``ids`` (run ids) are never cut or wrapped: the table
    shrinks its other columns, which wrap or fold rather than end in "…". The
    ``droppable`` columns go first, in that order, while the table would be
    wider than ``width``; the caption names them.
    """
    width = width or out.width
    hidden: list[str] = []
    while True:
        table = _table(frame.drop(columns=hidden), title, styles, ids)
        if _natural_width(table) <= width or len(hidden) == len([c for c in droppable if c in frame.columns]):
            break
        hidden.append(next(c for c in droppable if c in frame.columns and c not in hidden))
    if hidden:
        table.caption = f"not shown at this width: {', '.join(hidden)} (widen the terminal, or use --json)"
    return table


def _table(frame: pd.DataFrame, title: str | None, styles: dict[str, str] | None, ids: tuple[str, ...]) -> Table:
    import pandas as pd

    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  collapse_padding=True, title_justify="left", caption_justify="left")
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        if col in ids:
            longest = max([len(str(col)), *(len(str(v)) for v in frame[col])])
            table.add_column(str(col), no_wrap=True, min_width=longest, overflow="fold")
        else:
            table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        cells = [fmt(v) for v in row]
        table.add_row(*cells, style=(styles or {}).get(str(row[0]), None))
    return table


def _natural_width(table: Table) -> int:
    """The columns ``table`` takes when nothing in it wraps."""
    return Console(width=10_000, file=io.StringIO()).measure(table).maximum


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


class PlainProgress:
    """Progress as plain lines on stderr, for logs and pipes where bars would only appear at the end.

    Each stage prints a line when it starts, at most one every ``every`` seconds
    while it runs, and one when it ends, with its count and elapsed time.
    """

    def __init__(self, every: float = 10.0) -> None:
        import time

        self._clock = time.monotonic
        self._every = every
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._ended: set[str] = set()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, stage: str, done: int, total: int, note: str = "") -> None:
        now = self._clock()
        if stage not in self._started:
            self._started[stage] = self._last[stage] = now
            self._ended.discard(stage)
            self._line(f"{stage}: started, {total} to do" + (f" ({note})" if note else ""))
        if done >= total:
            if stage not in self._ended:
                self._ended.add(stage)
                self._line(f"{stage}: done, {done}/{total} in {now - self._started[stage]:.0f} s")
            return
        if now - self._last[stage] >= self._every:
            self._last[stage] = now
            self._line(f"{stage}: {done}/{total}" + (f" ({note})" if note else "") + f", {now - self._started[stage]:.0f} s")

    def _line(self, text: str) -> None:
        import sys

        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def progress_reporter() -> RichProgress | PlainProgress:
    """Bars on a terminal; plain, throttled lines when stderr is a file or a pipe."""
    return RichProgress() if err.is_terminal else PlainProgress()
