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
) -> pd.DataFrame:
    """One row per window × column with the check's score and verdict (columns ``WINDOW_COLUMNS``).

    Methods default to Evidently's choice for each window's sizes (see :func:`drift.checks.default_method`).
    """
    rows = []
    for start, end, window in split_windows(frame, timestamp, every):
        for col in columns:
            result = check_column(
                reference[col], window[col], (per_column_method or {}).get(col),
                (per_column_threshold or {}).get(col), "categorical" if col in categorical else None,
            )
            rows.append({"window_start": start, "window_end": end, **result.model_dump(include=set(WINDOW_COLUMNS))})
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS)
