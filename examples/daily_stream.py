"""Seven days of production-like rows from a pool of real ones (shared by the examples' ``make_stream.py``).

Each example decides what a day's rows are (which rows are drawn, and how they
are shifted); this module gives every day's rows their timestamps and withholds
their labels once the labelled days are over, so both examples' streams have the
same layout: ``sample_id`` (0, 1, ... over the whole stream), the features, a
nullable ``label`` and a ``timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def daily_stream(
    draw: Callable[[int, np.random.Generator], pd.DataFrame], *, days: int, start: pd.Timestamp, labelled_days: int, seed: int,
) -> pd.DataFrame:
    """The rows ``draw(day, rng)`` gives for each of ``days`` days (0-based), stamped and numbered.

    One generator, seeded with ``seed``, serves ``draw`` and the timestamps, in that
    order each day: a day's rows get sorted random times within that day from
    ``start``; days from ``labelled_days`` on have every label NULL (not arrived yet).
    """
    rng = np.random.default_rng(seed)
    windows = []
    for day in range(days):
        rows = draw(day, rng)
        seconds = np.sort(rng.integers(0, 86_400, len(rows)))
        rows["timestamp"] = start + pd.Timedelta(days=day) + pd.to_timedelta(seconds, unit="s")
        rows["label"] = rows["label"].astype("Float64") if day < labelled_days else pd.array([pd.NA] * len(rows), dtype="Float64")
        windows.append(rows.drop(columns="sample_id"))
    frame = pd.concat(windows, ignore_index=True)
    frame.insert(0, "sample_id", np.arange(len(frame), dtype=np.int64))
    return frame
