"""Drift over time: each window of a timestamped dataset against the suite's reference, stored as runs.

Storage choice: every window is committed as one run of the suite (trigger
``drift-watch``) whose ``started_at`` is the window's start and whose run id is
``<suite>-drift-<dataset>-<start>-<end>``, so

* ``vigil history --suite S --metric drift_share --dataset <stream>`` shows one point per
  window, ordered by data time, with the ordinary ``slice="all"`` rows;
* re-running the same windows replaces those runs (same ids) instead of adding copies;
* the window's per-column drift table (``drift.parquet``) and Evidently's HTML move
  with the run into ``runs/<run_id>/``, like any run's artifacts.

Summary rows per window (variant ``clean``, slice ``all``):

* model ``data``: ``drift_share`` (share of drifted feature columns; ``n`` = window rows) and,
  with labels on both sides, ``target_drift_share``;
* per model: ``prediction_drift_share``; ``accuracy_estimated`` and ``macro_f1_estimated``
  (confidence-based on probabilities calibrated on the labelled reference — method in the run's
  ``provenance["calibration"]`` — with their intervals as CI); when every label of the window is present, the
  suite's realised metrics with bootstrap CIs and ``accuracy_estimate_error`` /
  ``macro_f1_estimate_error`` (estimate − realised);
* the window signals (:mod:`pipeline.drift_watch.signals`): model ``data`` — ``label_rate:<class>`` (Wilson CI);
  per model — ``predicted_rate:<class>``. The window's pattern (``covariate drift``, ``concept drift``, …)
  and all its signals are in the run's provenance (``pattern``, ``signals``).

Windows (``drift.window``) are fixed spans, calendar periods or row counts (:func:`drift.windows.cut_windows`);
a row window's run id ends ``-rows-<first>-<end>`` (positions in the dataset's file order).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drift.performance_estimation import IDENTITY, Calibrator, compare_with_labels, estimate_performance, fit_calibrator
from drift.windows import WindowCut, cut_windows
from evaluators.scoring import score_predictions
from pipeline.evaluate.drift import DRIFT_TABLE, DriftSide, compare, drift_rows, labels_of
from pipeline.commit import StagedArtifact, StagedRun, commit_staged_run
from pipeline.triggers.alerts import DriftAlert
from pipeline.drift_watch.signals import WindowSignals, pattern_kinds, window_signals
from pipeline.progress import report
from pipeline.drift_watch.streams import Reference, dataset_spec, outputs, stream_datasets, window_labels, window_reference
from pipeline.evaluate.prepare import code_sha256
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels, load_dataset
from storage.frames import write_frame
from storage.records import DatasetVersionRecord, ModelVersionRecord
from storage.store import ResultStore
from suite.errors import VigilError
from suite.load import load_suite
from suite.settings import Settings
from suite.spec import Frozen, SuiteSpec

TRIGGER = "drift-watch"
ESTIMATE_VERSION = "cbpe-2"
ESTIMATE_CI = "label-draws"
"""How the estimates' intervals are made: labels drawn from the calibrated probabilities (drift/performance_estimation.py)."""
_TABLE = StagedArtifact(kind="drift_table", file=DRIFT_TABLE, description="drift per window × column")
_HTML = StagedArtifact(kind="drift", file="drift.html", description="Evidently drift report")
__all__ = ["TRIGGER", "WindowOutcome", "pattern_alerts", "stream_datasets", "watch_windows", "window_run_id"]


class WindowOutcome(Frozen):
    """One window's committed drift run, in brief, with its signals and per-column drift rows.

    ``window_start``/``window_end`` are None for row windows of data without a timestamp;
    ``first_row``/``end_row`` are the window's row positions in the dataset.
    """

    run_id: str
    dataset: str
    window: str
    window_start: datetime | None
    window_end: datetime | None
    first_row: int
    end_row: int
    rows: int
    labelled: bool
    share_drifted: float
    dataset_drifted: bool
    pattern: str
    signals: WindowSignals
    columns: list[dict[str, Any]]


def window_run_id(suite: str, dataset: str, start: pd.Timestamp | WindowCut, end: pd.Timestamp | None = None) -> str:
    """The deterministic run id of one window: re-running it replaces the run.

    ``…-<start>-<end>`` for time windows, ``…-rows-<first>-<end>`` for row windows.
    """
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in f"{suite}-drift-{dataset}")
    if isinstance(start, WindowCut):
        if start.by_rows or start.start is None:
            return f"{slug}-rows-{start.first_row:06d}-{start.end_row:06d}"
        start, end = start.start, start.end
    return f"{slug}-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"


def watch_windows(suite: SuiteSpec | str | Path, settings: Settings, *, since: datetime | None = None,
                  dataset: str | None = None) -> list[WindowOutcome]:
    """Compare every window (``drift.window``, default one day) of each stream dataset with the reference.

    The suite is parsed once (by the caller, or here from its file) and each dataset read once.

    Args:
        suite: The suite, parsed, or its file.
        settings: Where runs are stored and which Ray to use for large windows.
        since: Only windows starting at or after this moment (naive means UTC); row windows without
            timestamps are always all watched.
        dataset: Only this dataset.

    Returns:
        One outcome per committed window run, oldest first.
    """
    suite = suite if isinstance(suite, SuiteSpec) else load_suite(suite)
    names = stream_datasets(suite, dataset)
    assert suite.drift is not None
    ref_data = load_dataset(dataset_spec(suite, suite.drift.reference), suite)  # read once: classes and the reference side
    classes = _classes(suite, ref_data)
    reference = window_reference(suite, settings, classes, data=ref_data)
    calibrators = _calibrators(suite, reference.side, reference.y)
    found = []
    for name in names:
        spec = dataset_spec(suite, name)
        own = name == suite.drift.reference
        data = reference.data if own else load_dataset(spec, suite)
        preds = outputs(suite, data, settings, classes) if reference.side.predictions else {}
        frame = data.frame[~reference.keep] if own else data.frame
        cuts = [c for c in cut_windows(frame, spec.timestamp, suite.drift.windowing)
                if since is None or c.start is None or c.start >= _naive(since, c.start)]
        report("windows", 0, len(cuts), name)
        for done, cut in enumerate(cuts, start=1):
            found.append(_commit_window(suite, settings, data, reference, preds, classes, cut, calibrators))
            report("windows", done, len(cuts), f"{name} · {found[-1].window}")
    return found


def _commit_window(
    suite: SuiteSpec, settings: Settings, data: LoadedDataset, reference: Reference,
    preds: dict[str, pd.DataFrame], classes: list[int | str] | None, cut: WindowCut, calibrators: dict[str, Calibrator],
) -> WindowOutcome:
    spec = suite.drift
    assert spec is not None
    ref_side, rows = reference.side, cut.rows
    run_id = window_run_id(suite.name, data.name, cut)
    store = ResultStore(settings)
    window = LoadedDataset(data.name, rows.reset_index(drop=True), data.features, data.label, data.sha256, data.source)
    window_preds = {m: rows[[SAMPLE_ID]].merge(p, on=SAMPLE_ID, how="left") for m, p in preds.items()}
    labels = labels_of(window, suite.task, classes) if ref_side.labels is not None else None
    current = DriftSide(window.frame[list(ref_side.features.columns)], window_preds, labels)
    comparison = compare(ref_side.frame(), current.frame(), spec, suite.task, settings.ray_address)
    context = {"run_id": run_id, "suite": suite.name, "dataset": data.name, "window_start": cut.start, "window_end": cut.end}
    table = drift_rows(comparison, spec.share_threshold, **context)
    staging = store.staging_dir(run_id)
    write_frame(staging / DRIFT_TABLE, table)
    html = comparison.snapshot is not None and spec.html
    if html:
        from drift.evidently_adapter import save_html  # Evidently only where a snapshot was made (it takes seconds to import)

        save_html(comparison.snapshot, staging / _HTML.file)
    results = _summary_rows(suite, data, table, window, window_preds, labels, calibrators)
    estimates = {r["model"]: r for r in results.to_dict("records") if r["metric"] == "accuracy_estimated"} if len(results) else {}
    signals = window_signals(
        table, estimates, task=suite.task, classes=classes, y=window_labels(window, suite.task, classes), preds=window_preds,
        ref_y=reference.y, ref_preds=ref_side.predictions, alpha=spec.signal_alpha, confidence=suite.bootstrap.confidence,
    )
    results = pd.concat([results, _signal_rows(suite, data, signals)], ignore_index=True)
    run = StagedRun(  # a window records no environment (provenance None): its own facts only
        run_id=run_id, suite=suite.name, suite_hash=suite.fingerprint(), started_at=_started(cut), trigger=TRIGGER, verdict="none",
        details={"window": [cut.start.isoformat() if cut.start is not None else None, cut.end.isoformat() if cut.end is not None else None],
                 "rows": [cut.first_row, cut.end_row], "window_spec": spec.windowing.label, "dataset": data.name,
                 "reference": spec.reference,
                 "calibration": {m: c.method for m, c in calibrators.items() if m in preds}, "pattern": signals.pattern, "signals": signals.model_dump(mode="json")},
        models=[ModelVersionRecord(name=m.name, sha256=m.sha256 or code_sha256(m, suite), format=m.format,
                                   path=m.path or "", role=m.role, version=m.version) for m in suite.models if m.name in preds],
        datasets=[DatasetVersionRecord(name=data.name, sha256=data.sha256, rows=len(rows), source=data.source)],
        artifacts=[_TABLE, _HTML] if html else [_TABLE],  # not an HTML an earlier attempt left in staging
    )
    commit_staged_run(run, results, settings, store)
    return WindowOutcome(
        run_id=run_id, dataset=data.name, window=cut.label,
        window_start=cut.start.to_pydatetime() if cut.start is not None else None,
        window_end=cut.end.to_pydatetime() if cut.end is not None else None,
        first_row=cut.first_row, end_row=cut.end_row, rows=len(rows), labelled=labels is not None,
        share_drifted=signals.data_share_drifted, dataset_drifted=signals.data_drifted,
        pattern=signals.pattern, signals=signals, columns=_records(table),
    )


def pattern_alerts(outcome: WindowOutcome, suite: str) -> list[DriftAlert]:
    """``vigil.drift.detected`` alerts for a window's concept or prediction drift (data drift alerts come from its table)."""
    window = (outcome.window_start.isoformat(), outcome.window_end.isoformat()) if outcome.window_start and outcome.window_end else None
    return [DriftAlert(suite=suite, run_id=outcome.run_id, dataset=outcome.dataset, kind=kind, model=model, columns=moved,
                       magnitude=size, window=window) for kind, model, moved, size in pattern_kinds(outcome.signals)]


def _started(cut: WindowCut) -> datetime:
    """A window run's ``started_at``: its start, or (row windows without time) the epoch plus its first row in seconds."""
    if cut.start is None:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=cut.first_row)
    start = cut.start
    return (start.tz_localize(UTC) if start.tzinfo is None else start.tz_convert(UTC)).to_pydatetime()


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Every per-column row of the window's drift table (all its columns), JSON-ready."""
    skip = {"run_id", "suite", "dataset", "window_start", "window_end"}
    out = []
    for row in table.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and np.isnan(v) else v.item() if isinstance(v, np.generic) else v)
                    for k, v in row.items() if k not in skip})
    return out


def _signal_rows(suite: SuiteSpec, data: LoadedDataset, signals: WindowSignals) -> pd.DataFrame:
    """Summary rows of the window's class rates: ``label_rate:<class>`` (model data) and ``predicted_rate:<class>``."""
    rows = []

    def add(model: str, name: str, shift: Any) -> None:
        for cls, rate, low, high in zip(shift.classes, shift.rates, shift.low, shift.high):
            spec = next((m for m in suite.models if m.name == model), None)
            rows.append({"dataset": data.name, "model": model, "model_sha": (spec.sha256 or code_sha256(spec, suite)) if spec else data.sha256,
                         "role": spec.role if spec else ("data" if model == "data" else "logged"), "variant": "clean", "slice": "all",
                         "metric": f"{name}:{cls}", "metric_version": "1", "value": rate, "ci_low": low, "ci_high": high, "n": shift.n,
                         "ci_method": "wilson"})

    if signals.labels is not None and hasattr(signals.labels, "rates"):
        add("data", "label_rate", signals.labels)
    for model in signals.models:
        if model.predictions is not None:
            add(model.model, "predicted_rate", model.predictions)
    return pd.DataFrame(rows)


def _summary_rows(
    suite: SuiteSpec, data: LoadedDataset, table: pd.DataFrame, window: LoadedDataset,
    preds: dict[str, pd.DataFrame], labels: pd.Series | None, calibrators: dict[str, Calibrator],
) -> pd.DataFrame:
    rows = []
    n = len(window.frame)

    def add(model: str, metric: str, value: float, low: float = np.nan, high: float = np.nan, version: str = "1", count: int = n,
            method: str | None = None) -> None:
        role = next((m.role for m in suite.models if m.name == model), "data" if model == "data" else "logged")
        sha = next((m.sha256 or code_sha256(m, suite) for m in suite.models if m.name == model), data.sha256)
        rows.append({"dataset": data.name, "model": model, "model_sha": sha, "role": role, "variant": "clean", "slice": "all",
                     "metric": metric, "metric_version": version, "value": value, "ci_low": low, "ci_high": high, "n": count,
                     "ci_method": method})

    for (kind, model), group in table.groupby(["kind", "model"], sort=False):
        metric = {"data": "drift_share", "prediction": "prediction_drift_share", "target": "target_drift_share",
                  "multivariate": "multivariate_drift"}[kind]
        add(model or "data", metric, float(group["share_drifted"].iloc[0]))
    if suite.task != "classification":
        return pd.DataFrame(rows)
    for model, frame in preds.items():
        scores = _scores(frame)
        if scores.shape[1] == 0:  # logged predictions without scores: the window signals give their accuracy
            continue
        estimate = estimate_performance(scores, confidence=suite.bootstrap.confidence, seed=suite.seed, calibrator=calibrators.get(model))
        add(model, "accuracy_estimated", estimate.accuracy, estimate.accuracy_low, estimate.accuracy_high, ESTIMATE_VERSION, method=ESTIMATE_CI)
        add(model, "macro_f1_estimated", estimate.macro_f1, estimate.macro_f1_low, estimate.macro_f1_high, ESTIMATE_VERSION, method=ESTIMATE_CI)
        if labels is None:
            continue
        y_true = labels.to_numpy(dtype=np.int64)
        check = compare_with_labels(estimate, y_true, scores)
        add(model, "accuracy_estimate_error", check.accuracy_estimate - check.accuracy, version=ESTIMATE_VERSION)
        add(model, "macro_f1_estimate_error", check.macro_f1_estimate - check.macro_f1, version=ESTIMATE_VERSION)
        realised = score_predictions(y_true, scores, task=suite.task, metric_names=suite.metric_names(),
                                     masks={"all": np.ones(len(y_true), dtype=bool)}, bootstrap=suite.bootstrap, seed=suite.seed)
        for r in realised:
            add(model, r.metric, r.value, r.ci_low, r.ci_high, r.metric_version, r.n, r.ci_method)
    return pd.DataFrame(rows)


def _scores(frame: pd.DataFrame) -> np.ndarray:
    """A model's class scores (``score_<k>`` in class order), each row normalised to sum to 1; no columns when none were logged."""
    scores = frame[sorted((c for c in frame.columns if c.startswith("score_")), key=lambda c: int(c[6:]))].to_numpy(dtype=np.float64)
    return scores / scores.sum(axis=1, keepdims=True) if scores.shape[1] else scores


def _calibrators(suite: SuiteSpec, reference: DriftSide, y: np.ndarray | None) -> dict[str, Calibrator]:
    """Per model, the calibrator fitted once on the reference's scores and known labels (identity without them)."""
    known = None if y is None or suite.task != "classification" else y >= 0
    out = {}
    for model, frame in reference.predictions.items():
        scores = _scores(frame)
        if known is None or not known.any() or scores.shape[1] == 0:
            out[model] = IDENTITY
        else:
            out[model] = fit_calibrator(scores[known], y[known].astype(np.int64), seed=suite.seed)  # type: ignore[index]
    return out


def _classes(suite: SuiteSpec, reference: LoadedDataset) -> list[int | str] | None:
    if suite.task != "classification":
        return None
    if suite.classes is not None:
        return list(suite.classes)
    if reference.label is None:
        raise VigilError(f"suite {suite.source}: classes: expected classes or a labelled drift reference, got neither")
    return encode_labels(reference.frame[reference.label], None, f"dataset {reference.name}")[1]


def _naive(moment: datetime, like: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    if like.tzinfo is None and stamp.tzinfo is not None:
        return stamp.tz_convert(UTC).tz_localize(None)
    if like.tzinfo is not None and stamp.tzinfo is None:
        return stamp.tz_localize(UTC)
    return stamp
