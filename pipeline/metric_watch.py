"""Metric drift after a run: has any of the suite's metric series just left its normal band?

A series is one (dataset, model, variant, slice, metric, metric_version) across the
suite's completed runs, oldest first — calibration (``ece``) included, it is a
metric like any other. For every series the run appears in, its value is the
newest point and two detectors from :mod:`drift.metric_drift` look at the history
up to it, with the suite's ``metric_drift`` settings:

* the band check flags the run when its whole CI lies outside the robust band of
  the previous runs (so bootstrap noise alone is not drift);
* CUSUM flags a sustained shift, but only when its alarm is *new* with this run
  (the history without this run raises none), so one shift alerts once, not on
  every later run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.metric_drift import band_change, cusum_change
from storage.store import ResultStore
from suite.errors import VigilError
from suite.load import load_suite
from suite.sections import MetricDriftSpec
from suite.settings import Settings
from suite.spec import Frozen

SERIES_KEY = ["dataset", "model", "variant", "slice", "metric", "metric_version"]


class MetricAlert(Frozen):
    """A metric of one run that changed against its history.

    Attributes:
        suite: Suite name.
        run_id: The run whose value changed.
        dataset, model, variant, slice, metric, metric_version: The series.
        value, ci_low, ci_high: The run's value and CI.
        method: ``band`` or ``cusum``.
        magnitude: Signed distance from the band centre / baseline, in robust standard deviations.
        direction: ``up`` or ``down``.
        band: The normal band the value left.
        history: Past runs the verdict used.
        reason: One line from the detector.
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
    method: str
    magnitude: float
    direction: str
    band: tuple[float, float] | None
    history: int
    reason: str


def series_changes(series: pd.DataFrame, spec: MetricDriftSpec) -> list[tuple[str, float, str, tuple[float, float] | None, str]]:
    """Changes signalled at the newest point of one series (oldest first): (method, magnitude, direction, band, reason)."""
    values = series["value"].to_numpy(dtype=float)
    keep = ~np.isnan(values)
    if not keep[-1] or keep.sum() < 2:
        return []
    values = values[keep]
    low = series["ci_low"].to_numpy(dtype=float)[keep]
    high = series["ci_high"].to_numpy(dtype=float)[keep]
    low, high = np.where(np.isnan(low), values, low), np.where(np.isnan(high), values, high)
    out = []
    band = band_change(values, low, high, spec)
    if band.detected and band.direction:
        out.append(("band", band.magnitude, band.direction, band.band, band.reason))
    cusum = cusum_change(values, low, high, spec)
    if cusum.detected and cusum.direction and not cusum_change(values[:-1], low[:-1], high[:-1], spec).detected:
        out.append(("cusum", cusum.magnitude, cusum.direction, cusum.band, cusum.reason))
    return out


def metric_changes_for_run(run_id: str, settings: Settings, spec: MetricDriftSpec | None = None) -> list[MetricAlert]:
    """Every series of the run's suite whose newest point (this run's value) changed against its history.

    Args:
        run_id: A committed run.
        settings: Where results live.
        spec: Detector settings; None reads the suite's ``metric_drift`` (defaults when the suite
            file is gone).

    Raises:
        VigilError: the run is not committed.
    """
    store = ResultStore(settings)
    run = store.get_run(run_id)
    if run is None:
        raise VigilError(f"metric drift: run {run_id!r} not found (see `vigil runs`)")
    spec = spec or _suite_spec(run.provenance)
    runs = {r.run_id: r.started_at for r in store.list_runs(suite=run.suite, limit=100_000) if r.status == "completed"}
    results = store.scan_results(suite=run.suite)
    results = results[results["run_id"].isin(runs)]
    results = results.assign(started_at=results["run_id"].map(runs))
    results = results[results["started_at"] <= run.started_at]
    mine = results[results["run_id"] == run_id][SERIES_KEY].drop_duplicates()
    history = results.merge(mine, on=SERIES_KEY).sort_values(["started_at", "run_id"], kind="stable")
    alerts = []
    for key, series in history.groupby(SERIES_KEY, sort=False):
        series = series.tail(spec.history + 1)
        if series["run_id"].iloc[-1] != run_id:
            continue
        newest = series.iloc[-1]
        for method, magnitude, direction, band, reason in series_changes(series, spec):
            alerts.append(MetricAlert(
                suite=run.suite, run_id=run_id, **dict(zip(SERIES_KEY, map(str, key))),
                value=float(newest["value"]), ci_low=_maybe(newest["ci_low"]), ci_high=_maybe(newest["ci_high"]),
                method=method, magnitude=float(magnitude), direction=direction, band=band,
                history=len(series) - 1, reason=reason,
            ))
    return alerts


def _suite_spec(provenance: dict) -> MetricDriftSpec:
    path = (provenance.get("suite") or {}).get("path") if isinstance(provenance.get("suite"), dict) else None
    try:
        return load_suite(path).metric_drift if path else MetricDriftSpec()
    except (VigilError, OSError):
        return MetricDriftSpec()


def _maybe(x: object) -> float | None:
    value = float(x)  # type: ignore[arg-type]
    return None if np.isnan(value) else value
