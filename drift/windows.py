"""Cut a timestamped frame into windows and compare each window with a reference.

Example:
    >>> import numpy as np, pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=48, freq="h")
    >>> frame = pd.DataFrame({"ts": ts, "x": np.arange(48.0)})
    >>> [(str(s), str(e), len(f)) for s, e, f in split_windows(frame, "ts", "1D")]
    [('2026-01-01 00:00:00', '2026-01-02 00:00:00', 24), ('2026-01-02 00:00:00', '2026-01-03 00:00:00', 24)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from drift.checks import check_column
from drift.policy import DriftPolicy, apply_policy
from drift.scale import BinsSpec, FrameSummary, drift_from_summaries, merge_summaries, shard_summary
from suite.errors import VigilError
from suite.sections import WindowSpec, as_window, calendar_period

WINDOW_COLUMNS = ["window_start", "window_end", "column", "score", "score_kind", "threshold", "drifted",
                  "method", "method_version", "n_reference", "n_current"]


@dataclass(frozen=True)
class WindowCut:
    """One window of a stream: its time span (None without a timestamp), its row positions and rows.

    ``first_row``/``end_row`` are positions in the dataset's file order, ``[first_row, end_row)`` for row
    windows; for time windows they are the positions of the window's first and one past its last row.
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    first_row: int
    end_row: int
    rows: pd.DataFrame
    by_rows: bool = False

    @property
    def label(self) -> str:
        """``2026-03-05``, ``2026-03-05 06:00`` or ``rows 500-1000``: how tables name the window."""
        if self.by_rows or self.start is None:
            return f"rows {self.first_row}-{self.end_row}"
        whole_days = self.start == self.start.normalize() and (self.end is None or self.end - self.start >= pd.Timedelta(days=1))
        return f"{self.start:%Y-%m-%d}" if whole_days else f"{self.start:%Y-%m-%d %H:%M}"


def cut_windows(frame: pd.DataFrame, timestamp: str | None, window: str | WindowSpec) -> Iterator[WindowCut]:
    """Yield each non-empty window of ``frame``, oldest (or first) first.

    ``frame``'s index holds the rows' positions in the dataset (kept when rows were left out, e.g. a
    reference part). Windows are ``[start, end)``: a fixed span (``every``) is aligned to multiples of the
    span from the epoch; a calendar period is a whole week (Monday to Sunday unless the alias anchors
    another day), month, quarter or year; ``rows`` cuts consecutive rows in file order and needs no timestamp.

    Example:
        >>> frame = pd.DataFrame({"ts": pd.to_datetime(["2026-01-30", "2026-01-31", "2026-02-01"])})
        >>> [(w.label, len(w.rows)) for w in cut_windows(frame, "ts", "1MS")]
        [('2026-01-01', 2), ('2026-02-01', 1)]
    """
    try:
        spec = as_window(window)
    except ValueError as exc:
        raise VigilError(f"drift windows: {exc}") from None
    positions = frame.index.to_numpy()
    if spec.rows is not None:
        times = pd.to_datetime(frame[timestamp]) if timestamp and timestamp in frame.columns else None
        for i in range(0, len(frame), spec.rows):
            rows = frame.iloc[i:i + spec.rows]
            start = end = None
            if times is not None:
                start, end = pd.Timestamp(times.iloc[i:i + spec.rows].min()), pd.Timestamp(times.iloc[i:i + spec.rows].max())
            yield WindowCut(start, end, int(positions[i]), int(positions[i + len(rows) - 1]) + 1, rows, by_rows=True)
        return
    if not timestamp or timestamp not in frame.columns:
        raise VigilError(f"drift windows: expected timestamp column {timestamp!r}, got {list(frame.columns)}")
    times = pd.to_datetime(frame[timestamp])
    if spec.every is not None:
        step = pd.tseries.frequencies.to_offset(spec.every)
        starts = times.dt.floor(spec.every)
        ends = starts + step
    else:
        tz = times.dt.tz
        naive = times.dt.tz_localize(None) if tz is not None else times
        periods = naive.dt.to_period(calendar_period(spec.calendar or ""))
        starts, ends = periods.dt.start_time, (periods + 1).dt.start_time
        if tz is not None:
            starts, ends = starts.dt.tz_localize(tz), ends.dt.tz_localize(tz)
    for start, rows in frame.groupby(starts, sort=True):
        where = positions[frame.index.get_indexer(rows.index)]
        yield WindowCut(pd.Timestamp(start), pd.Timestamp(ends.loc[rows.index[0]]), int(where.min()), int(where.max()) + 1, rows)


def split_windows(
    frame: pd.DataFrame, timestamp: str, every: str | WindowSpec
) -> Iterator[tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]]:
    """Yield ``(window_start, window_end, rows)`` for each non-empty time window, oldest first.

    Windows are ``[start, end)``: ``every`` is a fixed span such as ``"1D"`` or ``"6h"`` (aligned to
    multiples of it from the epoch) or a calendar period such as ``"1W"`` or ``"1ME"`` (see :func:`cut_windows`).
    """
    for cut in cut_windows(frame, timestamp, every):
        assert cut.start is not None and cut.end is not None
        yield cut.start, cut.end, cut.rows


def drift_by_window(
    reference: pd.DataFrame,
    frame: pd.DataFrame,
    timestamp: str,
    every: str,
    columns: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    per_column_method: Mapping[str, str] | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    policy: DriftPolicy | None = None,
) -> pd.DataFrame:
    """One row per window × column with the check's score and verdict (columns ``WINDOW_COLUMNS``).

    Columns without a named method get Vigil's default policy (:mod:`drift.policy`), corrected
    across the window's columns.
    """
    rows = []
    for start, end, window in split_windows(frame, timestamp, every):
        results = [check_column(
            reference[col], window[col], (per_column_method or {}).get(col),
            (per_column_threshold or {}).get(col), "categorical" if col in categorical else None, policy=policy,
        ) for col in columns]
        for result in apply_policy(results):
            rows.append({"window_start": start, "window_end": end, **result.model_dump(include=set(WINDOW_COLUMNS))})
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)


def summaries_by_window(
    frame: pd.DataFrame, timestamp: str, every: str, columns: Sequence[str], bins_spec: BinsSpec
) -> dict[pd.Timestamp, FrameSummary]:
    """Per-window summaries of one shard: run it on each worker, then :func:`merge_window_summaries`."""
    return {start: shard_summary(rows, columns, bins_spec) for start, _, rows in split_windows(frame, timestamp, every)}


def merge_window_summaries(parts: Sequence[Mapping[pd.Timestamp, FrameSummary]]) -> dict[pd.Timestamp, FrameSummary]:
    """Merge many shards' per-window summaries window by window (a window may miss from some shards)."""
    starts = sorted({start for part in parts for start in part})
    return {start: merge_summaries([part[start] for part in parts if start in part]) for start in starts}


def drift_table_from_summaries(
    reference: FrameSummary,
    windows: Mapping[pd.Timestamp, FrameSummary],
    every: str,
    *,
    per_column_method: Mapping[str, str] | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    policy: DriftPolicy | None = None,
) -> pd.DataFrame:
    """The same long table as :func:`drift_by_window`, from merged per-window summaries."""
    step = pd.tseries.frequencies.to_offset(every)  # a fixed span: calendar windows go through cut_windows
    rows = []
    for start in sorted(windows):
        result = drift_from_summaries(reference, windows[start], per_column_method=per_column_method,
                                      per_column_threshold=per_column_threshold, policy=policy)
        for r in result.columns:
            rows.append({"window_start": start, "window_end": start + step, **r.model_dump(include=set(WINDOW_COLUMNS))})
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)
