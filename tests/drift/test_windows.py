"""Daily windows over synthetic streams with known change points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift.evidently_adapter import run_data_drift
from drift.scale import make_bins_spec, shard_summary
from drift.windows import (
    WINDOW_COLUMNS,
    drift_by_window,
    drift_table_from_summaries,
    merge_window_summaries,
    split_windows,
    summaries_by_window,
)
from suite.errors import VigilError

DAYS, PER_DAY = 5, 600
# Column -> day from which it changes (None: never).
CHANGE_DAY = {"mean_shift": 2, "variance": 3, "category": 1, "control": None}


def _stream(seed: int = 21) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def day(d: int | None) -> pd.DataFrame:
        after = lambda col: d is not None and CHANGE_DAY[col] is not None and d >= CHANGE_DAY[col]  # noqa: E731
        n = PER_DAY if d is not None else 1000
        return pd.DataFrame({
            "mean_shift": rng.normal(0.6 if after("mean_shift") else 0.0, 1.0, n),
            "variance": rng.normal(0.0, 2.0 if after("variance") else 1.0, n),
            "category": rng.choice(list("abcn"), n, p=[0.3, 0.3, 0.2, 0.2] if after("category") else [0.375, 0.375, 0.25, 0]),
            "control": rng.exponential(1.0, n),
        })

    reference = day(None)
    days = []
    for d in range(DAYS):
        frame = day(d)
        start = pd.Timestamp("2026-03-01") + pd.Timedelta(days=d)
        frame.insert(0, "ts", start + pd.to_timedelta(np.sort(rng.uniform(0, 86400, PER_DAY)), unit="s"))
        days.append(frame)
    return reference, pd.concat(days, ignore_index=True)


def test_split_windows_covers_every_row_once():
    _, stream = _stream()
    windows = list(split_windows(stream, "ts", "6h"))
    assert sum(len(f) for _, _, f in windows) == len(stream)
    for start, end, frame in windows:
        assert end - start == pd.Timedelta(hours=6)
        assert frame["ts"].min() >= start and frame["ts"].max() < end


def test_each_change_is_found_in_its_window_and_the_control_never_alerts():
    reference, stream = _stream()
    table = drift_by_window(reference, stream, "ts", "1D", list(CHANGE_DAY))
    assert list(table.columns) == WINDOW_COLUMNS and len(table) == DAYS * len(CHANGE_DAY)
    for column, change_day in CHANGE_DAY.items():
        rows = table[table["column"] == column].sort_values("window_start")
        expected = [change_day is not None and d >= change_day for d in range(DAYS)]
        assert rows["drifted"].tolist() == expected, column
    # Variance change: the mean stays, so K-S (a distribution test) is what catches it.
    assert set(table.loc[table["column"] == "variance", "method"]) == {"ks"}


def test_sharded_window_summaries_find_the_same_changes():
    reference, stream = _stream()
    cols = list(CHANGE_DAY)
    spec = make_bins_spec(reference, cols)
    shards = [stream.iloc[i::3] for i in range(3)]  # rows of every day land on every shard
    merged = merge_window_summaries([summaries_by_window(s, "ts", "1D", cols, spec) for s in shards])
    table = drift_table_from_summaries(shard_summary(reference, cols, spec), merged, "1D")
    direct = drift_by_window(reference, stream, "ts", "1D", cols)
    assert table["n_current"].tolist() == direct["n_current"].tolist()
    assert table["drifted"].tolist() == direct["drifted"].tolist()
    assert table["method"].tolist() == direct["method"].tolist()


def test_window_verdicts_match_evidently_on_the_change_day():
    reference, stream = _stream()
    (start, _, window) = list(split_windows(stream, "ts", "1D"))[2]
    evidently, _ = run_data_drift(reference, window, list(CHANGE_DAY))
    table = drift_by_window(reference, stream, "ts", "1D", list(CHANGE_DAY))
    ours = table[table["window_start"] == start].set_index("column")["drifted"].to_dict()
    assert ours == {r.column: r.drifted for r in evidently.columns}


def test_bad_timestamp_or_frequency_is_one_clear_error():
    _, stream = _stream()
    with pytest.raises(VigilError, match="expected timestamp column 'when'"):
        next(split_windows(stream, "when", "1D"))
    with pytest.raises(VigilError, match="expected a fixed span"):
        next(split_windows(stream, "ts", "daily"))
