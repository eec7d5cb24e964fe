"""A metric's history with its change points and incidents, for ``vigil history --changes``.

Per series of a :meth:`storage.store.ResultStore.history` frame: the segments
:func:`drift.change_points.segments` finds looking back over the whole series,
every incident event the online detector raised (the same events the runs
emitted), and the incident still open at the newest run, if any.
"""

from __future__ import annotations

import pandas as pd

from drift.change_points import segments
from pipeline.triggers.metric_watch import SERIES_KEY, series_verdict, suite_settings, to_alert
from storage.store import ResultStore


def history_changes(store: ResultStore, suite: str, frame: pd.DataFrame) -> list[dict[str, object]]:
    """One JSON-able document per series in ``frame`` (oldest first): segments, events, open incident.

    The detector settings are the suite's ``metric_drift`` section as recorded by its newest run
    (defaults when the suite file is gone).
    """
    newest = store.list_runs(suite=suite, limit=1)
    spec, ci_level = suite_settings(newest[0].provenance if newest else {})
    out: list[dict[str, object]] = []
    for key, series in frame.groupby(SERIES_KEY, sort=False):
        series, verdict = series_verdict(series.sort_values(["started_at", "run_id"], kind="stable"), spec, ci_level)
        if series.empty:
            continue
        alerts = [to_alert(suite, key, series, verdict, e).model_dump(mode="json") for e in verdict.events]
        cuts = segments(series["value"].to_numpy(float))
        out.append({
            **dict(zip(SERIES_KEY, map(str, key))),
            "segments": [
                {"start": s.start, "end": s.end, "first_run": str(series["run_id"].iloc[s.start]),
                 "last_run": str(series["run_id"].iloc[s.end - 1]),
                 "started_at": pd.Timestamp(series["started_at"].iloc[s.start]).isoformat(), "points": s.end - s.start,
                 "mean": s.mean}
                for s in cuts
            ],
            "reference": verdict.reference.model_dump() if verdict.reference else None,
            "events": alerts,
            "open_incident": alerts[-1] if verdict.open_incident else None,
            "reason": verdict.reason,
        })
    return out
