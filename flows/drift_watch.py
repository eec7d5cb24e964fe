"""The ``drift-watch`` flow: each window of a suite's timestamped data against its reference, then alerts.

Entrypoint ``flows/drift_watch.py:drift_watch``. Each window is committed as a run
of the suite (trigger ``drift-watch``, see :mod:`pipeline.drift_watch.windows`); then
every window run's drift — data groups that drifted, and windows whose pattern is concept or
prediction drift (kind ``concept`` / ``prediction``) — and metric incident events are emitted as
``vigil.drift.detected`` / ``vigil.metric.changed`` / ``vigil.metric.recovered`` events.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, task

from flows.alerts import emit_drift_events, emit_metric_events
from flows.retries import worth_retrying
from pipeline.triggers.alerts import drift_alerts
from pipeline.evaluate.drift import drift_table
from pipeline.drift_watch.windows import WindowOutcome, pattern_alerts, watch_windows
from pipeline.triggers.metric_watch import metric_changes_for_run
from suite.load import load_suite
from suite.settings import Settings, load_settings
from suite.spec import SuiteSpec


@task(name="drift-windows", retries=1, retry_delay_seconds=5, retry_condition_fn=worth_retrying)
def windows(suite: SuiteSpec, settings: Settings, since: datetime | None, dataset: str | None) -> list[WindowOutcome]:
    return watch_windows(suite, settings, since=since, dataset=dataset)


@task(name="alert")
def alert(outcomes: list[WindowOutcome], settings: Settings, suite: str) -> dict[str, int]:
    drifted = sum(emit_drift_events(drift_alerts(drift_table(o.run_id, settings)) + pattern_alerts(o, suite)) for o in outcomes)
    # Metric events fire at the point where an incident opens or closes: check every window, oldest first.
    changed = sum(emit_metric_events(metric_changes_for_run(o.run_id, settings)) for o in outcomes)
    return {"drift_events": drifted, "metric_events": changed}


@flow(name="drift-watch", log_prints=True)
def drift_watch(suite_path: str, since: datetime | None = None, dataset: str | None = None, ray_address: str | None = None) -> dict[str, object]:
    """Store drift per window of the suite's timestamped datasets and emit alerts."""
    settings = load_settings(ray_address)
    suite = load_suite(suite_path)  # parsed once: the windows and the alerts' resource both take it from here
    outcomes = windows(suite, settings, since, dataset)
    counts = alert(outcomes, settings, suite.name)
    return {"runs": [o.run_id for o in outcomes], "drifted": [o.run_id for o in outcomes if o.dataset_drifted],
            "patterns": {o.run_id: o.pattern for o in outcomes}, **counts}
