"""pipeline.reproduce: what changed between a stored run and its reproduction, exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from pipeline.evaluate.plan import DatasetEntry, ModelEntry, RunPlan
from pipeline.reproduce import changed_inputs, changed_predictions, environment_changes, moved_metrics
from storage.records import DatasetVersionRecord, ModelVersionRecord, RunRecord

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ROW = {"dataset": "test", "model": "mlp", "variant": "clean", "slice": "all", "metric": "accuracy",
       "value": 0.9, "ci_low": 0.85, "ci_high": 0.93, "n": 100}


def test_identical_rows_do_not_move_and_nan_equals_nan() -> None:
    stored = pd.DataFrame([ROW, {**ROW, "metric": "ece", "ci_low": float("nan")}])
    assert moved_metrics(stored, stored.iloc[::-1].copy()) == []


def test_a_changed_ci_and_a_missing_row_are_named() -> None:
    stored = pd.DataFrame([ROW, {**ROW, "metric": "ece"}])
    again = pd.DataFrame([{**ROW, "ci_high": 0.930000001}])
    assert moved_metrics(stored, again) == ["test/mlp/clean/all/accuracy: ci_high 0.93 → 0.930000001",
                                            "test/mlp/clean/all/ece: only in the stored run"]


def _plan(model_sha: str, data_sha: str) -> RunPlan:
    return RunPlan(run_id="r", suite_path="/s.yaml", suite_name="s", suite_hash="h", seed=0, trigger="manual", started_at=T0,
                   models=[ModelEntry(name="mlp", sha256=model_sha, format="torch", role="candidate", path="/m/mlp.pt")],
                   datasets=[DatasetEntry(name="test", sha256=data_sha, rows=3, source="/d/test.csv")], variants=["clean"])


def test_changed_inputs_name_the_file() -> None:
    record = RunRecord(run_id="r", suite="s", suite_hash="h", started_at=T0, status="completed", verdict="none", trigger="manual",
                       models=[ModelVersionRecord(name="mlp", sha256="a" * 64, format="torch", path="/m/mlp.pt", role="candidate")],
                       datasets=[DatasetVersionRecord(name="test", sha256="b" * 64, rows=3, source="/d/test.csv")])
    assert changed_inputs(_plan("a" * 64, "b" * 64), record) == []
    (line,) = changed_inputs(_plan("a" * 64, "c" * 64), record)
    assert line.startswith("dataset 'test' (/d/test.csv): sha256 bbbbbbbbbbbb… recorded, now cccccccccccc…")


def test_prediction_and_environment_changes() -> None:
    assert changed_predictions({"m/d/clean": "1"}, {"m/d/clean": "2", "m/d/x": "3"}) == ["predictions m/d/clean: differ",
                                                                                      "predictions m/d/x: only on one side"]
    then = {"python": "3.12.1", "packages": {"numpy": "2.0", "torch": "2.4"}}
    now = {"python": "3.12.1", "packages": {"numpy": "2.1", "torch": "2.4"}}
    assert environment_changes(then, now) == ["numpy: 2.0 → 2.1"]
