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

import pandas as pd

from drift.checks import check_column
from drift.policy import DriftPolicy, apply_policy
from drift.scale import BinsSpec, FrameSummary, drift_from_summaries, merge_summaries, shard_summary
from suite.errors import VigilError

WINDOW_COLUMNS = ["window_start", "window_end", "column", "score", "score_kind", "threshold", "drifted",
                  "method", "method_version", "n_reference", "n_current"]


def split_windows(
    frame: pd.DataFrame, timestamp: str, every: str
) -> Iterator[tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]]:
    """Yield ``(window_start, window_end, rows)`` for each non-empty window, oldest first.

    Windows are ``[start, end)``, aligned to ``every`` (a pandas frequency such as ``"1D"`` or ``"6h"``).
    """
    if timestamp not in frame.columns:
        raise VigilError(f"drift windows: expected timestamp column {timestamp!r}, got {list(frame.columns)}")
    times = pd.to_datetime(frame[timestamp])
    try:
        step = pd.tseries.frequencies.to_offset(every)
    except ValueError:
        raise VigilError(f"drift windows: expected a pandas frequency such as '1D' or '6h', got {every!r}") from None
    starts = times.dt.floor(every)
    for start, rows in frame.groupby(starts, sort=True):
        yield pd.Timestamp(start), pd.Timestamp(start) + step, rows


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
    step = pd.tseries.frequencies.to_offset(every)
    rows = []
    for start in sorted(windows):
        result = drift_from_summaries(reference, windows[start], per_column_method=per_column_method,
                                      per_column_threshold=per_column_threshold, policy=policy)
        for r in result.columns:
            rows.append({"window_start": start, "window_end": start + step, **r.model_dump(include=set(WINDOW_COLUMNS))})
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)
