"""What to alert on, as plain data: drift groups that crossed their share, and changed metrics.

:mod:`flows.alerts` turns these into Prefect events; :func:`alerts_markdown` is the
snippet a verdict's markdown leads with.
"""

from __future__ import annotations

import pandas as pd

from pipeline.triggers.metric_watch import MetricAlert
from suite.spec import Frozen


class DriftAlert(Frozen):
    """One (dataset, kind, model) group of a run whose share of drifted columns reached its threshold.

    Attributes:
        suite: Suite name.
        run_id: The run (an evaluate run, or a drift-watch window run).
        dataset: Dataset compared with the reference.
        kind: ``data``, ``prediction`` or ``target``.
        model: The model for prediction drift, else empty.
        columns: Drifted columns, strongest first.
        magnitude: Share of the group's columns that drifted.
        window: ``[start, end)`` ISO strings for a window run, else None.
    """

    suite: str
    run_id: str
    dataset: str
    kind: str
    model: str
    columns: list[str]
    magnitude: float
    window: tuple[str, str] | None = None


def drift_alerts(table: pd.DataFrame) -> list[DriftAlert]:
    """Alerts from a drift table (:data:`pipeline.evaluate.drift.DRIFT_COLUMNS`): groups with ``dataset_drifted``."""
    alerts = []
    if table.empty:
        return alerts
    keys = ["suite", "run_id", "dataset", "kind", "model"]
    for (suite, run_id, dataset, kind, model), group in table.groupby(keys, sort=False, dropna=False):
        if not bool(group["dataset_drifted"].iloc[0]):
            continue
        drifted = group[group["drifted"].astype(bool)]
        strength = drifted.apply(lambda r: -r["score"] if r["score_kind"] == "distance" else r["score"], axis=1)
        ordered = drifted.assign(_strength=strength).sort_values("_strength", kind="stable")["column"].tolist()
        start, end = group["window_start"].iloc[0], group["window_end"].iloc[0]
        window = None if pd.isna(start) else (pd.Timestamp(start).isoformat(), pd.Timestamp(end).isoformat())
        alerts.append(DriftAlert(suite=str(suite), run_id=str(run_id), dataset=str(dataset), kind=str(kind),
                                 model=str(model or ""), columns=ordered,
                                 magnitude=float(group["share_drifted"].iloc[0]), window=window))
    return alerts


def drift_payload(alert: DriftAlert) -> dict[str, object]:
    """The ``vigil.drift.detected`` event payload."""
    return alert.model_dump(mode="json")


def metric_payload(alert: MetricAlert) -> dict[str, object]:
    """The ``vigil.metric.changed`` / ``vigil.metric.recovered`` event payload."""
    return alert.model_dump(mode="json")


def alerts_markdown(drift: list[DriftAlert], metrics: list[MetricAlert], max_columns: int = 6) -> str:
    """A short markdown section on drift and metric incidents; empty when there is nothing to say."""
    if not drift and not metrics:
        return ""
    lines = ["## ⚠️ Drift and metric changes", ""]
    for a in drift:
        what = f"{a.kind} drift" + (f" of {a.model}" if a.model else "")
        where = f" in window {a.window[0]} → {a.window[1]}" if a.window else ""
        shown = ", ".join(f"`{c}`" for c in a.columns[:max_columns]) + (" …" if len(a.columns) > max_columns else "")
        lines.append(f"- **{what}** on `{a.dataset}`{where}: {a.magnitude:.0%} of columns drifted ({shown})")
    for m in metrics:
        ci = "" if m.ci_low is None or m.ci_high is None else f" [{m.ci_low:.4f}, {m.ci_high:.4f}]"
        what = {"opened": f"went {m.direction}", "changed": f"moved {m.direction} again", "closed": "recovered"}[m.state]
        lines.append(
            f"- **{m.metric}** of `{m.model}` on `{m.dataset}` ({m.variant}, {m.slice}) {what} "
            f"(incident `{m.incident_id}` {m.state}): {m.value:.4f}{ci}; since run `{m.change_run_id}` the level is "
            f"{m.level:.4f} vs reference {m.reference_mean:.4f} ± {m.reference_sd:.4f} "
            f"({m.magnitude:+.1f} sd, {m.reference_runs} reference runs)"
        )
    return "\n".join(lines) + "\n"
