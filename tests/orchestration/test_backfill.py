"""Backfill over time windows and past versions: idempotent pieces and an aging curve (real Prefect, Ray, SQLite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.backfill import backfill
from flows.evaluate import evaluate_suite
from storage.datasets import DATASET_LOADERS
from storage.store import ResultStore
from suite.settings import load_settings
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.usefixtures("prefect_server")


def _timestamped_digits(suite_path: Path) -> pd.DataFrame:
    """The digits test split as a Parquet file with a timestamp spread over three months."""
    frame = DATASET_LOADERS.get("sklearn.digits")("test")
    rng = np.random.default_rng(3)
    month = rng.integers(0, 3, len(frame))
    frame["ts"] = pd.to_datetime("2024-01-01", utc=True) + pd.to_timedelta(month * 31 + rng.integers(0, 28, len(frame)), unit="D")
    frame.to_parquet(suite_path.parent / "stream.parquet", index=False)
    slim_suite(suite_path, datasets=[{"name": "stream", "path": "stream.parquet", "label": "label", "timestamp": "ts", "id_column": "sample_id", "image_shape": [8, 8]}],
               gates=[], metrics=["accuracy"], primary_metric="accuracy", slices=[], workers={"num_actors": 1, "cpus_per_actor": 1})
    return frame


def test_backfill_windows_are_idempotent_and_match_the_full_run(digits_suite: Path, vigil_home: Path) -> None:
    frame = _timestamped_digits(digits_suite)
    v1 = {"model": "cnn", "version": "v1", "path": str(digits_suite.parent / "checkpoints" / "candidate.pt")}
    first = backfill(suite_path=str(digits_suite), versions=[v1], dataset="stream", freq="M", metric="accuracy")
    assert first["ran"] == ["digits-bf-cnn-v1-2024-01", "digits-bf-cnn-v1-2024-02", "digits-bf-cnn-v1-2024-03"] and first["skipped"] == []

    again = backfill(suite_path=str(digits_suite), versions=[v1], dataset="stream", freq="M", metric="accuracy")
    assert again["ran"] == [] and again["skipped"] == first["ran"]
    assert again["curve"] == first["curve"]

    # Independent check: the full-data run's predictions, cut by month here, give the same per-window accuracy.
    evaluate_suite(suite_path=str(digits_suite), run_id="full")
    preds = ResultStore(load_settings()).read_predictions("full", "stream", "cnn", "clean").set_index("sample_id")
    months = frame.set_index("sample_id")["ts"].dt.strftime("%Y-%m")
    curve = pd.DataFrame(first["curve"]).query("model == 'cnn'").set_index("window")
    assert list(curve.index) == ["2024-01", "2024-02", "2024-03"]
    for window, ids in months.groupby(months).groups.items():
        rows = preds.loc[ids]
        assert curve.loc[window, "n"] == len(ids)
        assert curve.loc[window, "value"] == pytest.approx((rows["y_pred"] == rows["y_true"]).mean())
    assert set(curve["version"]) == {"v1"}
    run = ResultStore(load_settings()).get_run("digits-bf-cnn-v1-2024-02")
    assert run is not None and run.trigger == "backfill" and {m.name: m.version for m in run.models}["cnn"] == "v1"
