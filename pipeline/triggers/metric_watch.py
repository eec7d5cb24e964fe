"""Metric incidents after a run: did any of the suite's metric series change at this run?

A series is one (dataset, model, variant, slice, metric, metric_version) across the
suite's completed runs, oldest first — calibration (``ece``) included, it is a
metric like any other. :func:`drift.metric_drift.detect_changes` scans each series
the run belongs to, from its first point up to the run, against the series' fixed
reference (the suite's ``metric_drift`` settings; CIs at the suite's bootstrap
confidence). Only the events that fire *at this run's point* are reported:
``opened``, ``changed`` or ``closed`` — never "still bad" again on later runs. The
scan is causal, so re-running it over the same history gives the same incidents,
and an incident's id (from the series and the run that opened it) is stable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import numpy as np
import pandas as pd

from drift.metric_drift import MetricEvent, Reference, SeriesVerdict, detect_changes
from storage.store import ResultStore
from suite.errors import VigilError
from suite.load import load_suite
from suite.sections import MetricDriftSpec
from suite.settings import Settings
from suite.spec import Frozen

SERIES_KEY = ["dataset", "model", "variant", "slice", "metric", "metric_version"]


class MetricAlert(Frozen):
    """An incident event of one metric series, at one run.

    Attributes:
        suite: Suite name.
        run_id: The run at which the event fires.
        dataset, model, variant, slice, metric, metric_version: The series.
        value, ci_low, ci_high: The run's value and CI.
        state: ``opened``, ``changed`` (a further change while open) or ``closed`` (recovered).
        incident_id: Stable id of the incident (the series and the run that opened it).
        change_index: Position in the series (0 = its first run) where the change began.
        change_run_id, started_at: That run and its start time (ISO), i.e. when the change began.
        opened_run_id: The run at which the incident opened.
        direction: ``up`` or ``down``: the move from the previous level to the new one.
        level: Mean of the new segment.
        magnitude: ``(level - reference mean) / reference sd``, signed.
        reference_mean, reference_sd, reference_runs: The fixed reference.
        method: ``cusum`` or ``recovery``.
        reason: One line saying what happened.
    """

    suite: str
    run_id: str
    dataset: str
    model: str
    variant: str
    slice: str
    metric: str
    metric_version: str
    value: float
    ci_low: float | None
    ci_high: float | None
    state: Literal["opened", "changed", "closed"]
    incident_id: str
    change_index: int
    change_run_id: str
    started_at: str
    opened_run_id: str
    direction: str
    level: float
    magnitude: float
    reference_mean: float
    reference_sd: float
    reference_runs: int
    method: str
    reason: str


def series_verdict(series: pd.DataFrame, spec: MetricDriftSpec, ci_level: float = 0.95) -> tuple[pd.DataFrame, SeriesVerdict]:
    """The detector's verdict on one series (rows oldest first); returns the rows it used (NaN values dropped)."""
    series = series[series["value"].notna()].reset_index(drop=True)
    if series.empty:
        return series, SeriesVerdict(reference=None, events=[], reason="no values")
    return series, detect_changes(
        series["value"].to_numpy(float), series["ci_low"].to_numpy(float), series["ci_high"].to_numpy(float),
        series["n"].to_numpy(float) if "n" in series else None, spec, reference_mask(series, spec), ci_level,
    )


def reference_mask(series: pd.DataFrame, spec: MetricDriftSpec) -> np.ndarray | None:
    """Which rows form the reference: ``reference_runs``, else the ``[reference_from, reference_to)`` range, else None (the first N)."""
    if spec.reference_runs:
        return series["run_id"].isin(spec.reference_runs).to_numpy()
    if spec.reference_from is None and spec.reference_to is None:
        return None
    started = pd.to_datetime(series["started_at"], utc=True)
    mask = np.ones(len(series), bool)
    if spec.reference_from is not None:
        mask &= (started >= _utc(spec.reference_from)).to_numpy()
    if spec.reference_to is not None:
        mask &= (started < _utc(spec.reference_to)).to_numpy()
    return mask


def incident_id(suite: str, key: tuple[object, ...], opened_run_id: str) -> str:
    """A stable id: the suite, the series and the run that opened the incident."""
    text = json.dumps([suite, [str(k) for k in key], opened_run_id])
    return f"{str(key[SERIES_KEY.index('metric')])}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def to_alert(suite: str, key: tuple[object, ...], series: pd.DataFrame, verdict: SeriesVerdict, event: MetricEvent) -> MetricAlert:
    """The alert for one event of a series (rows as returned by :func:`series_verdict`)."""
    row, change = series.iloc[event.index], series.iloc[event.change_index]
    opened_run = str(series["run_id"].iloc[event.opened_index])
    ref = verdict.reference or Reference(mean=float("nan"), sd=float("nan"), between_sd=0.0, size=0, last_index=-1, noise="plain")
    started = pd.Timestamp(change["started_at"]).isoformat()
    what = {"opened": "left its reference", "changed": "changed again while its incident is open",
            "closed": "is back at its reference"}[event.state]
    return MetricAlert(
        suite=suite, run_id=str(row["run_id"]), **dict(zip(SERIES_KEY, map(str, key))),
        value=float(row["value"]), ci_low=_maybe(row["ci_low"]), ci_high=_maybe(row["ci_high"]),
        state=event.state, incident_id=incident_id(suite, key, opened_run), change_index=event.change_index,
        change_run_id=str(change["run_id"]), started_at=started, opened_run_id=opened_run,
        direction=event.direction, level=event.level, magnitude=event.magnitude,
        reference_mean=ref.mean, reference_sd=ref.sd, reference_runs=ref.size, method=event.method,
        reason=f"{what} since run {change['run_id']} ({event.level:.4f} vs reference {ref.mean:.4f}, {event.magnitude:+.1f} sd)",
    )


def metric_changes_for_run(run_id: str, settings: Settings, spec: MetricDriftSpec | None = None, *,
                           confidence: float | None = None) -> list[MetricAlert]:
    """The incident events that fire at this run's point, over every series the run belongs to.

    Args:
        run_id: A committed run.
        settings: Where results live.
        spec: Detector settings; None reads the suite's ``metric_drift`` (defaults when the suite
            file is gone).
        confidence: The suite's bootstrap confidence; with ``spec`` given too, the suite file is not read
            (a run's plan holds both).

    Raises:
        VigilError: the run is not committed.
    """
    store = ResultStore(settings)
    run = store.get_run(run_id)
    if run is None:
        raise VigilError(f"metric drift: run {run_id!r} not found (see `vigil runs`)")
    suite_spec, ci_level = (spec, confidence) if spec is not None and confidence is not None else suite_settings(run.provenance)
    spec = spec or suite_spec
    runs = {r.run_id: r.started_at for r in store.list_runs(suite=run.suite, limit=100_000) if r.status == "completed"}
    results = store.scan_results(suite=run.suite)
    results = results[results["run_id"].isin(runs)]
    results = results.assign(started_at=results["run_id"].map(runs))
    results = results[results["started_at"] <= run.started_at]
    mine = results[results["run_id"] == run_id][SERIES_KEY].drop_duplicates()
    history = results.merge(mine, on=SERIES_KEY).sort_values(["started_at", "run_id"], kind="stable")
    alerts = []
    for key, series in history.groupby(SERIES_KEY, sort=False):
        series, verdict = series_verdict(series, spec, ci_level)
        if series.empty or series["run_id"].iloc[-1] != run_id:
            continue
        last = len(series) - 1
        alerts += [to_alert(run.suite, key, series, verdict, e) for e in verdict.events if e.index == last]
    return alerts


def suite_settings(provenance: dict) -> tuple[MetricDriftSpec, float]:
    """The suite's ``metric_drift`` section and bootstrap confidence, from the path its run recorded (defaults if gone)."""
    path = (provenance.get("suite") or {}).get("path") if isinstance(provenance.get("suite"), dict) else None
    try:
        suite = load_suite(path) if path else None
    except (VigilError, OSError):
        suite = None
    return (suite.metric_drift, suite.bootstrap.confidence) if suite else (MetricDriftSpec(), 0.95)


def _utc(moment: object) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _maybe(x: object) -> float | None:
    value = float(x)  # type: ignore[arg-type]
    return None if np.isnan(value) else value
