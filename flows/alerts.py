"""Prefect events for drift and metric changes, on the suite's resource ``vigil.suite.<name>``.

Events: ``vigil.drift.detected`` (one per drifted dataset × kind × model group),
``vigil.metric.changed`` (a metric series' incident opened, or changed again while
open) and ``vigil.metric.recovered`` (its incident closed). Automations match on
them (see ``deploy/automations.yaml``).
"""

from __future__ import annotations

from prefect.events import emit_event

from pipeline.triggers.alerts import DriftAlert, alerts_markdown, drift_alerts, drift_payload, metric_payload
from pipeline.evaluate.drift import drift_table
from pipeline.triggers.metric_watch import MetricAlert, metric_changes_for_run
from suite.settings import Settings
from suite.spec import SuiteSpec

DRIFT_EVENT = "vigil.drift.detected"
METRIC_EVENT = "vigil.metric.changed"
RECOVERED_EVENT = "vigil.metric.recovered"


def suite_resource(suite: str) -> dict[str, str]:
    """The Prefect resource every Vigil event of ``suite`` is about."""
    return {"prefect.resource.id": f"vigil.suite.{suite}", "prefect.resource.name": suite}


def emit_drift_events(alerts: list[DriftAlert]) -> int:
    """Emit one ``vigil.drift.detected`` per alert; returns how many were emitted."""
    for alert in alerts:
        emit_event(event=DRIFT_EVENT, resource=suite_resource(alert.suite), payload=drift_payload(alert))
    return len(alerts)


def emit_metric_events(alerts: list[MetricAlert]) -> int:
    """Emit ``vigil.metric.recovered`` for each closed incident, ``vigil.metric.changed`` for the others; returns how many."""
    for alert in alerts:
        event = RECOVERED_EVENT if alert.state == "closed" else METRIC_EVENT
        emit_event(event=event, resource=suite_resource(alert.suite), payload=metric_payload(alert))
    return len(alerts)


def alert_run(run_id: str, settings: Settings, suite: SuiteSpec | None = None) -> str:
    """Emit a committed run's drift and metric-change events; returns the markdown snippet for its verdict.

    ``suite`` is the run's parsed suite when the caller holds it (a run's plan does); else the
    metric-drift settings are read from the suite file the run recorded.
    """
    drift = drift_alerts(drift_table(run_id, settings))
    metrics = (metric_changes_for_run(run_id, settings) if suite is None
               else metric_changes_for_run(run_id, settings, suite.metric_drift, confidence=suite.bootstrap.confidence))
    emit_drift_events(drift)
    emit_metric_events(metrics)
    return alerts_markdown(drift, metrics)


__all__ = ["DRIFT_EVENT", "METRIC_EVENT", "RECOVERED_EVENT", "alert_run", "alerts_markdown", "emit_drift_events", "emit_metric_events"]
