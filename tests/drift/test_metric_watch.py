"""Metric incidents over committed runs (built with ResultStore directly), their Prefect events and the history view."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from flows.alerts import METRIC_EVENT, RECOVERED_EVENT, emit_metric_events
from pipeline.triggers.alerts import alerts_markdown
from pipeline.triggers.metric_watch import metric_changes_for_run
from storage.records import RunRecord
from storage.store import ResultStore
from suite.sections import MetricDriftSpec
from suite.settings import load_settings
from tests.drift.wiring_data import read_events

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SE = 0.004  # the accuracy CI's standard error
# Ten reference runs at 0.90, a drop to 0.85 for ten runs, back to 0.90 for five.
LEVELS = [0.90] * 10 + [0.85] * 10 + [0.90] * 5


def _commit(store: ResultStore, suite: str, i: int, accuracy: float, ece: float) -> str:
    run_id = f"{suite}-run-{i:02d}"
    rows = [
        {"metric": metric, "metric_version": "1", "value": value, "ci_low": value - 1.96 * se, "ci_high": value + 1.96 * se}
        for metric, value, se in (("accuracy", accuracy, SE), ("ece", ece, 0.002))
    ]
    results = pd.DataFrame(rows).assign(dataset="test", model="cand", model_sha="abc", role="candidate", variant="clean", slice="all", n=5000)
    record = RunRecord(run_id=run_id, suite=suite, suite_hash="h", started_at=T0 + timedelta(days=i), status="completed", verdict="pass")
    store.commit_run(record, results)
    return run_id


def _history(store: ResultStore, suite: str, levels: list[float], seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [_commit(store, suite, i, level + rng.normal(0, SE), 0.03 + rng.normal(0, 0.002)) for i, level in enumerate(levels)]


def test_a_drop_opens_one_incident_and_the_recovery_closes_it(vigil_home: Path) -> None:
    store, settings = ResultStore(load_settings()), load_settings()
    runs = _history(store, "drop", LEVELS)
    per_run = {run_id: metric_changes_for_run(run_id, settings) for run_id in runs}
    fired = {run_id: alerts for run_id, alerts in per_run.items() if alerts}
    assert list(fired) == ["drop-run-10", "drop-run-20"]  # the drop, then the recovery; silent in between
    [opened], [closed] = fired.values()
    assert (opened.metric, opened.state, opened.direction, opened.change_run_id) == ("accuracy", "opened", "down", "drop-run-10")
    assert opened.started_at == (T0 + timedelta(days=10)).isoformat() and opened.magnitude < -3
    assert opened.level == pytest.approx(0.85, abs=3 * SE) and opened.reference_mean == pytest.approx(0.90, abs=SE)
    assert (closed.state, closed.direction, closed.incident_id) == ("closed", "up", opened.incident_id)
    # Re-running over the same history gives the same incident (stateless, idempotent).
    assert metric_changes_for_run("drop-run-10", settings) == [opened]
    markdown = alerts_markdown([], [opened, closed])
    assert f"went down (incident `{opened.incident_id}` opened)" in markdown and "recovered" in markdown


def test_the_reference_can_be_a_time_range_or_runs(vigil_home: Path) -> None:
    store, settings = ResultStore(load_settings()), load_settings()
    runs = _history(store, "ranges", [0.80] * 5 + [0.90] * 15, seed=2)
    assert [a.state for a in metric_changes_for_run(runs[10], settings)] == []
    # The first ten runs (0.80 then 0.90) are no fair reference; runs 5..14 are.
    by_time = MetricDriftSpec(reference_from=T0 + timedelta(days=5), reference_to=T0 + timedelta(days=15))
    by_runs = MetricDriftSpec(reference_runs=runs[5:15])
    for spec in (by_time, by_runs):
        assert all(metric_changes_for_run(run_id, settings, spec) == [] for run_id in runs[15:])


def test_metric_versions_are_separate_series(vigil_home: Path) -> None:
    store = ResultStore(load_settings())
    rng = np.random.default_rng(1)
    for i in range(12):
        _commit(store, "versions", i, 0.90 + rng.normal(0, SE), 0.03)
    record = RunRecord(run_id="versions-new", suite="versions", suite_hash="h", started_at=T0 + timedelta(days=13), status="completed", verdict="pass")
    new_version = pd.DataFrame([{"metric": "accuracy", "metric_version": "2", "value": 0.5, "ci_low": 0.49, "ci_high": 0.51,
                                 "dataset": "test", "model": "cand", "model_sha": "abc", "role": "candidate", "variant": "clean", "slice": "all", "n": 1000}])
    store.commit_run(record, new_version)
    assert metric_changes_for_run("versions-new", load_settings(), MetricDriftSpec()) == []


def test_history_changes_shows_segments_and_the_open_incident(vigil_home: Path) -> None:
    _history(ResultStore(load_settings()), "hist", LEVELS[:20], seed=3)
    result = CliRunner().invoke(app, ["history", "--suite", "hist", "--metric", "accuracy", "--changes", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["points"]) == 20
    [series] = document["series"]
    assert [(s["first_run"], s["points"]) for s in series["segments"]] == [("hist-run-00", 10), ("hist-run-10", 10)]
    assert series["open_incident"]["change_run_id"] == "hist-run-10" and series["open_incident"]["state"] == "opened"
    shown = CliRunner().invoke(app, ["history", "--suite", "hist", "--metric", "accuracy", "--changes"])
    assert shown.exit_code == 0 and "open incident" in shown.stdout and "hist-run-10" in shown.stdout
    plain = CliRunner().invoke(app, ["history", "--suite", "hist", "--metric", "accuracy", "--json"])
    assert isinstance(json.loads(plain.stdout), list)  # without --changes the document is unchanged


@pytest.mark.usefixtures("prefect_server")
def test_incident_events_reach_prefect(vigil_home: Path) -> None:
    suite = f"metric-{uuid.uuid4().hex[:8]}"
    store, settings = ResultStore(load_settings()), load_settings()
    runs = _history(store, suite, LEVELS)
    opened, closed = metric_changes_for_run(runs[10], settings), metric_changes_for_run(runs[20], settings)
    assert emit_metric_events(opened) == 1 and emit_metric_events(closed) == 1
    [changed] = read_events(METRIC_EVENT, f"vigil.suite.{suite}", expected=1)
    [recovered] = read_events(RECOVERED_EVENT, f"vigil.suite.{suite}", expected=1)
    assert (changed.payload["state"], recovered.payload["state"]) == ("opened", "closed")
    assert changed.payload["incident_id"] == recovered.payload["incident_id"] == opened[0].incident_id
    assert (changed.payload["run_id"], changed.payload["change_index"], changed.payload["metric"]) == (runs[10], 10, "accuracy")
    assert changed.payload["magnitude"] == pytest.approx(opened[0].magnitude)
