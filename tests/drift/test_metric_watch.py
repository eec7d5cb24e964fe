"""Metric drift over committed runs (built with ResultStore directly) and its Prefect events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows.alerts import METRIC_EVENT, emit_metric_events
from pipeline.alerts import alerts_markdown
from pipeline.metric_watch import metric_changes_for_run
from storage.records import RunRecord
from storage.store import ResultStore
from suite.sections import MetricDriftSpec
from suite.settings import load_settings
from tests.drift.wiring_data import read_events

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _commit(store: ResultStore, suite: str, i: int, accuracy: float, ece: float, half_width: float = 0.01) -> str:
    run_id = f"{suite}-run-{i:02d}"
    rows = [
        {"metric": metric, "metric_version": "1", "value": value, "ci_low": value - half_width, "ci_high": value + half_width}
        for metric, value in (("accuracy", accuracy), ("ece", ece))
    ]
    results = pd.DataFrame(rows).assign(dataset="test", model="cand", model_sha="abc", role="candidate", variant="clean", slice="all", n=1000)
    record = RunRecord(run_id=run_id, suite=suite, suite_hash="h", started_at=T0 + timedelta(days=i), status="completed", verdict="pass")
    store.commit_run(record, results)
    return run_id


def _history(store: ResultStore, suite: str, last_accuracy: float, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    for i in range(8):
        _commit(store, suite, i, 0.90 + rng.normal(0, 0.003), 0.03 + rng.normal(0, 0.002))
    return _commit(store, suite, 8, last_accuracy, 0.03 + rng.normal(0, 0.002))


def test_a_real_drop_raises_a_band_change_and_noise_does_not(vigil_home: Path) -> None:
    store = ResultStore(load_settings())
    dropped = _history(store, "drop", 0.80)
    alerts = metric_changes_for_run(dropped, load_settings())
    # Both detectors see the drop: the band (CI entirely below it) and a new CUSUM alarm.
    assert [(a.metric, a.method, a.direction) for a in alerts] == [("accuracy", "band", "down"), ("accuracy", "cusum", "down")]
    assert alerts[0].value == pytest.approx(0.80) and alerts[0].magnitude < -3 and alerts[0].history == 8
    assert alerts[0].band is not None and alerts[0].ci_high is not None and alerts[0].ci_high < alerts[0].band[0]
    steady = _history(store, "noise", 0.90 + 0.004)
    assert metric_changes_for_run(steady, load_settings()) == []
    # An earlier run of the dropped suite sees only its own past, in which nothing changed.
    assert metric_changes_for_run("drop-run-07", load_settings()) == []


def test_metric_versions_are_separate_series(vigil_home: Path) -> None:
    store = ResultStore(load_settings())
    rng = np.random.default_rng(1)
    for i in range(8):
        _commit(store, "versions", i, 0.90 + rng.normal(0, 0.003), 0.03)
    record = RunRecord(run_id="versions-new", suite="versions", suite_hash="h", started_at=T0 + timedelta(days=9), status="completed", verdict="pass")
    new_version = pd.DataFrame([{"metric": "accuracy", "metric_version": "2", "value": 0.5, "ci_low": 0.49, "ci_high": 0.51,
                                 "dataset": "test", "model": "cand", "model_sha": "abc", "role": "candidate", "variant": "clean", "slice": "all", "n": 1000}])
    store.commit_run(record, new_version)
    assert metric_changes_for_run("versions-new", load_settings(), MetricDriftSpec()) == []


@pytest.mark.usefixtures("prefect_server")
def test_metric_changed_events_reach_prefect(vigil_home: Path) -> None:
    suite = f"metric-{uuid.uuid4().hex[:8]}"
    store = ResultStore(load_settings())
    run_id = _history(store, suite, 0.80)
    alerts = metric_changes_for_run(run_id, load_settings())
    assert emit_metric_events(alerts) == 2
    events = read_events(METRIC_EVENT, f"vigil.suite.{suite}", expected=2)
    payloads = sorted((e.payload for e in events), key=lambda p: p["method"])
    assert [p["method"] for p in payloads] == ["band", "cusum"]
    for payload, alert in zip(payloads, alerts):
        assert (payload["suite"], payload["model"], payload["metric"], payload["run_id"]) == (suite, "cand", "accuracy", run_id)
        assert payload["magnitude"] == pytest.approx(alert.magnitude)
    assert "**accuracy** of `cand`" in alerts_markdown([], alerts)
