"""Frames written a row group at a time are the files ``DataFrame.to_parquet`` writes, byte for byte.

Prediction files are hashed for a run's provenance (``prediction_sha256``, the frame's content)
and listed in its manifest (the file's bytes), and cached predictions written before the
row-group writer are reused as they are: the writer must change neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storage.cache import PredictionCache
from storage.manifest import frame_sha256, parquet_frame_sha256
from storage.parquet import ROW_GROUP_ROWS, write_parquet_row_groups
from suite.errors import VigilError


def _predictions(rows: int, classes: int = 10, seed: int = 0) -> pd.DataFrame:
    """A predictions frame as inference builds it: int64 ids and labels, float32 score columns viewing one matrix."""
    rng = np.random.default_rng(seed)
    scores = rng.random((rows, classes), dtype=np.float32)
    columns = {"sample_id": np.arange(rows, dtype=np.int64), "y_true": rng.integers(0, classes, rows), "y_pred": scores.argmax(axis=1)}
    return pd.DataFrame(columns | {f"score_{k}": scores[:, k] for k in range(classes)}, copy=False)


def _mixed(rows: int, seed: int = 1) -> pd.DataFrame:
    """Strings with missing values (none at all in the first row group), categories, bools, timestamps, nullable ints, NaN."""
    rng = np.random.default_rng(seed)
    text = rng.choice(np.array(["a", "bb", None], dtype=object), rows)
    text[: rows // 2] = None
    return pd.DataFrame({
        "text": text,
        "category": pd.Categorical(rng.choice(["x", "y", "z"], rows)),
        "flag": rng.random(rows) > 0.5,
        "at": pd.date_range("2026-01-01", periods=rows, freq="s", tz="UTC"),
        "count": pd.array(np.where(rng.random(rows) > 0.8, None, rng.integers(0, 5, rows)), dtype="Int64"),
        "value": np.where(rng.random(rows) > 0.9, np.nan, rng.standard_normal(rows)),
    }, index=np.arange(rows) * 3)  # an index that is not 0..n-1: left out, as index=False does


@pytest.mark.parametrize("frame", [
    _predictions(10_000),
    _mixed(10_000),
    pd.DataFrame({"a": pd.Series([], dtype="int64"), "s": pd.Series([], dtype=object)}),
], ids=["predictions", "mixed", "empty"])
def test_row_groups_write_the_bytes_to_parquet_writes(tmp_path: Path, frame: pd.DataFrame) -> None:
    whole, sliced = tmp_path / "whole.parquet", tmp_path / "sliced.parquet"
    frame.to_parquet(whole, index=False, engine="pyarrow", row_group_size=4096)
    write_parquet_row_groups(frame, sliced, row_group_rows=4096)  # 3 row groups, the last one short

    assert sliced.read_bytes() == whole.read_bytes()
    assert parquet_frame_sha256(sliced) == frame_sha256(frame.reset_index(drop=True))


def test_frame_attrs_are_kept_as_pandas_keeps_them(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    frame.attrs = {"source": "test"}
    frame.to_parquet(tmp_path / "whole.parquet", index=False, engine="pyarrow")
    write_parquet_row_groups(frame, tmp_path / "sliced.parquet")

    assert (tmp_path / "sliced.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pd.read_parquet(tmp_path / "sliced.parquet").attrs == {"source": "test"}


def test_cached_predictions_are_the_bytes_to_parquet_writes_by_default(tmp_path: Path) -> None:
    """Past pyarrow's default row group (1Mi rows), as the cache held predictions before: older cache entries stay valid."""
    frame = _predictions(ROW_GROUP_ROWS + 1_000, classes=3)
    frame.to_parquet(tmp_path / "whole.parquet", index=False, engine="pyarrow")
    cache = PredictionCache(tmp_path / "cache")
    cache.put("key", frame)

    assert cache.path("key").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_row_group_rows_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match="row_group_rows: expected a positive integer, got 0"):
        write_parquet_row_groups(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet", row_group_rows=0)
