"""Round trip, ordering and predictions of ResultStore on SQLite and Postgres."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from storage.records import RESULT_COLUMNS, ArtifactRecord
from storage.store import ResultStore
from suite.errors import VigilError
from tests.storage.factories import T0, make_results, make_run


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["run_id", "dataset", "model", "variant", "slice", "metric"]
    return frame.sort_values(keys).reset_index(drop=True)


def test_round_trip(store: ResultStore) -> None:
    run = make_run("r1")
    results = make_results(run)
    results.loc[3, ["ci_low", "ci_high"]] = np.nan  # a metric without an interval

    store.commit_run(run, results)

    assert store.get_run("r1") == run
    assert store.get_run("missing") is None
    got = store.run_results("r1")
    assert list(got.columns) == list(RESULT_COLUMNS)
    assert_frame_equal(_sorted(got), _sorted(results[list(RESULT_COLUMNS)]), check_dtype=False)
    assert np.isnan(got.loc[3, "ci_low"])
    # the Parquet dataset holds the same rows, in the suite/date partition
    parquet = store.settings.results_dir / "suite=digits" / "date=2026-03-01" / "run-r1.parquet"
    assert_frame_equal(_sorted(pd.read_parquet(parquet)), _sorted(got), check_dtype=False)
    assert_frame_equal(_sorted(store.scan_results("digits")), _sorted(got), check_dtype=False)


def test_results_columns_filled_from_run_and_checked(store: ResultStore) -> None:
    run = make_run("r1")
    results = make_results(run).drop(columns=["run_id", "suite", "suite_hash", "created_at"])
    store.commit_run(run, results)
    got = store.run_results("r1")
    assert set(got["run_id"]) == {"r1"} and set(got["suite_hash"]) == {"hash-digits"}
    assert got["created_at"].dt.tz is not None

    with pytest.raises(VigilError, match="missing \\['value'\\]"):
        store.commit_run(make_run("r2"), make_results(make_run("r2")).drop(columns=["value"]))
    with pytest.raises(VigilError, match="run_id: expected 'r3'"):
        store.commit_run(make_run("r3"), make_results(make_run("r1")))
    assert store.get_run("r2") is None and store.get_run("r3") is None


def test_list_history_and_last_run_ordering(store: ResultStore) -> None:
    # committed out of order: ordering must come from started_at, not insertion
    plan = [("r-day2", 2, "fail", 0.80), ("r-day0", 0, "pass", 0.90), ("r-day1", 1, "pass", 0.85), ("r-day3", 3, "pass", 0.95)]
    for run_id, day, verdict, accuracy in plan:
        run = make_run(run_id, day=day, verdict=verdict)
        store.commit_run(run, make_results(run, accuracy=accuracy, seed=day))
    failed = make_run("r-failed", day=4, verdict="none", status="failed")
    store.commit_run(failed, make_results(failed, accuracy=0.1))
    other = make_run("r-other", suite="cifar", day=5)
    store.commit_run(other, make_results(other))

    assert [r.run_id for r in store.list_runs("digits")] == ["r-failed", "r-day3", "r-day2", "r-day1", "r-day0"]
    assert [r.run_id for r in store.list_runs()][:2] == ["r-other", "r-failed"]
    assert [r.run_id for r in store.list_runs("digits", limit=2)] == ["r-failed", "r-day3"]

    history = store.history(suite="digits", metric="accuracy", model="mlp")
    expected = sorted(plan, key=lambda item: item[1])  # failed run excluded: only completed runs
    assert list(history["run_id"]) == [run_id for run_id, *_ in expected]
    assert list(history["value"]) == pytest.approx([accuracy for *_, accuracy in expected])
    assert list(history["started_at"]) == [pd.Timestamp(T0 + timedelta(days=day)) for _, day, *_ in expected]
    assert set(history.columns) >= {"run_id", "started_at", "value", "ci_low", "ci_high", "n", "model", "metric_version"}
    assert (history["n"] == 360).all()

    both_models = store.history(suite="digits", metric="accuracy", slice="label=3", variant="gaussian_noise:3")
    assert len(both_models) == 8 and set(both_models["model"]) == {"mlp", "logreg"}
    assert (both_models["n"] == 36).all()
    assert store.history(suite="digits", metric="accuracy", dataset="nope").empty

    assert store.last_run("digits").run_id == "r-day3"  # the failed run is not a candidate
    assert store.last_run("digits", verdict="fail").run_id == "r-day2"
    assert store.last_run("digits", verdict="pass", before=T0 + timedelta(days=3)).run_id == "r-day1"
    assert store.last_run("digits", before=T0) is None


def test_predictions_staged_then_committed(store: ResultStore) -> None:
    run = make_run("r1")
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    frame = pd.DataFrame(
        {"sample_id": np.array([10, 11, 12], dtype="int64"), "y_true": [0, 1, 1], "y_pred": scores.argmax(1)}
        | {f"score_{k}": scores[:, k] for k in range(2)}
    )
    uri = store.write_predictions("r1", "test", "mlp", "gaussian_noise:3", frame)
    store.write_predictions("r1", "test", "mlp", "gaussian_noise%3A3", frame.iloc[:1])  # a distinct variant name
    staged = store.staging_dir("r1") / "predictions" / "test" / "mlp" / "gaussian_noise%3A3.parquet"
    assert uri == staged.as_uri() and staged.is_file()
    assert_frame_equal(store.read_predictions("r1", "test", "mlp", "gaussian_noise:3"), frame)

    staged_report = store.staging_dir("r1") / "drift.html"
    staged_report.write_text("<html></html>")
    run = run.model_copy(update={"artifacts": [ArtifactRecord(kind="drift_report", uri=str(staged_report))]})
    store.commit_run(run, make_results(run))

    assert not store.staging_dir("r1").exists()
    committed = store.settings.runs_dir / "r1" / "predictions" / "test" / "mlp" / "gaussian_noise%3A3.parquet"
    assert committed.is_file()
    assert_frame_equal(store.read_predictions("r1", "test", "mlp", "gaussian_noise:3"), frame)
    assert len(store.read_predictions("r1", "test", "mlp", "gaussian_noise%3A3")) == 1
    artifact_path = store.get_run("r1").artifacts[0].uri
    assert artifact_path == str(store.settings.runs_dir / "r1" / "drift.html")
    assert Path(artifact_path).read_text() == "<html></html>"
    with pytest.raises(VigilError, match="expected predictions for test/mlp/clean"):
        store.read_predictions("r1", "test", "mlp", "clean")
    with pytest.raises(VigilError, match="sample_id"):
        store.write_predictions("r1", "test", "mlp", "clean", frame.drop(columns="sample_id"))
    with pytest.raises(VigilError, match="model"):
        store.write_predictions("r1", "test", "..", "clean", frame)


def test_failed_run_without_results(store: ResultStore) -> None:
    failed = make_run("r-failed", status="failed", verdict="none")
    store.commit_run(failed, pd.DataFrame())
    assert store.get_run("r-failed") == failed
    assert store.run_results("r-failed").empty
    assert list(store.run_results("r-failed").columns) == list(RESULT_COLUMNS)
    assert store.last_run("digits") is None
    assert store.history(suite="digits", metric="accuracy").empty
