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
  ``macro_f1_estimate_error`` (estimate − realised).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from drift.evidently_adapter import save_html
from drift.performance_estimation import IDENTITY, Calibrator, compare_with_labels, estimate_performance, fit_calibrator
from drift.windows import split_windows
from evaluators.scoring import score_predictions
from pipeline.drift import DRIFT_TABLE, DriftSide, compare, drift_rows, labels_of, model_predictions, reference_side
from pipeline.prepare import code_sha256
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels, load_dataset
from storage.frames import write_frame
from storage.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord
from storage.store import ResultStore
from suite.errors import VigilError
from suite.load import load_suite
from suite.settings import Settings
from suite.spec import Frozen, SuiteSpec

TRIGGER = "drift-watch"
ESTIMATE_VERSION = "cbpe-2"


class WindowOutcome(Frozen):
    """One window's committed drift run, in brief."""

    run_id: str
    dataset: str
    window_start: datetime
    window_end: datetime
    rows: int
    labelled: bool
    share_drifted: float
    dataset_drifted: bool


def window_run_id(suite: str, dataset: str, start: pd.Timestamp, end: pd.Timestamp) -> str:
    """The deterministic run id of one window: re-running it replaces the run."""
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in f"{suite}-drift-{dataset}")
    return f"{slug}-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}"


def stream_datasets(suite: SuiteSpec, dataset: str | None = None) -> list[str]:
    """Datasets with a timestamp column other than the drift reference (or the one named)."""
    spec = suite.drift
    if spec is None:
        raise VigilError(f"suite {suite.source}: drift: expected a drift section with a reference dataset, got none")
    names = [d.name for d in suite.datasets if d.timestamp and d.name != spec.reference]
    if dataset is not None:
        if dataset not in names:
            raise VigilError(f"suite {suite.source}: --dataset: expected a dataset with a timestamp column {names}, got {dataset!r}")
        return [dataset]
    if not names:
        raise VigilError(f"suite {suite.source}: datasets: expected a dataset with a timestamp column to watch, got none")
    return names


def watch_windows(suite_path: str, settings: Settings, *, since: datetime | None = None, dataset: str | None = None) -> list[WindowOutcome]:
    """Compare every window (``drift.window``, default one day) of each stream dataset with the reference.

    Args:
        suite_path: The suite file.
        settings: Where runs are stored and which Ray to use for large windows.
        since: Only windows starting at or after this moment (naive means UTC).
        dataset: Only this dataset.

    Returns:
        One outcome per committed window run, oldest first.
    """
    suite = load_suite(suite_path)
    names = stream_datasets(suite, dataset)
    classes = _classes(suite, settings)
    ref_data, ref_side = reference_side(suite, settings, classes)
    calibrators = _calibrators(suite, ref_side, labels_of(ref_data, suite.task, classes) if classes else None)
    outcomes = []
    for name in names:
        spec = next(d for d in suite.datasets if d.name == name)
        data = load_dataset(spec, suite)
        preds = model_predictions(suite, data, settings, len(classes) if classes else None) if ref_side.predictions else {}
        for start, end, rows in split_windows(data.frame, spec.timestamp or "", suite.drift.window or "1D"):  # type: ignore[union-attr]
            if since is not None and start < _naive(since, start):
                continue
            outcomes.append(_commit_window(suite, settings, data, ref_side, preds, classes, start, end, rows, calibrators))
    return outcomes


def _commit_window(
    suite: SuiteSpec, settings: Settings, data: LoadedDataset, ref_side: DriftSide,
    preds: dict[str, pd.DataFrame], classes: list[int | str] | None,
    start: pd.Timestamp, end: pd.Timestamp, rows: pd.DataFrame, calibrators: dict[str, Calibrator],
) -> WindowOutcome:
    spec = suite.drift
    assert spec is not None
    run_id = window_run_id(suite.name, data.name, start, end)
    store = ResultStore(settings)
    window = LoadedDataset(data.name, rows.reset_index(drop=True), data.features, data.label, data.sha256, data.source)
    window_preds = {m: rows[[SAMPLE_ID]].merge(p, on=SAMPLE_ID, how="left") for m, p in preds.items()}
    labels = labels_of(window, suite.task, classes) if ref_side.labels is not None else None
    current = DriftSide(window.frame[list(ref_side.features.columns)], window_preds, labels)
    comparison = compare(ref_side.frame(), current.frame(), spec, suite.task, settings.ray_address)
    context = {"run_id": run_id, "suite": suite.name, "dataset": data.name, "window_start": start, "window_end": end}
    table = drift_rows(comparison, spec.share_threshold, **context)
    staging = store.staging_dir(run_id)
    write_frame(staging / DRIFT_TABLE, table)
    final = settings.runs_dir / run_id
    artifacts = [ArtifactRecord(kind="drift_table", uri=(final / DRIFT_TABLE).as_uri(), description="drift per window × column")]
    if comparison.snapshot is not None and spec.html:
        save_html(comparison.snapshot, staging / "drift.html")
        artifacts.append(ArtifactRecord(kind="drift", uri=(final / "drift.html").as_uri(), description="Evidently drift report"))
    results = _summary_rows(suite, data, table, window, window_preds, labels, calibrators)
    started = start.tz_localize(UTC) if start.tzinfo is None else start.tz_convert(UTC)
    record = RunRecord(
        run_id=run_id, suite=suite.name, suite_hash=suite.fingerprint(), started_at=started.to_pydatetime(),
        finished_at=datetime.now(UTC), status="completed", verdict="none", trigger=TRIGGER,
        provenance={"window": [start.isoformat(), end.isoformat()], "dataset": data.name, "reference": spec.reference,
                    "calibration": {m: c.method for m, c in calibrators.items() if m in preds}},
        models=[ModelVersionRecord(name=m.name, sha256=m.sha256 or code_sha256(m, suite), format=m.format,
                                   path=m.path or "", role=m.role, version=m.version) for m in suite.models if m.name in preds],
        datasets=[DatasetVersionRecord(name=data.name, sha256=data.sha256, rows=len(rows), source=data.source)],
        artifacts=artifacts,
    )
    store.commit_run(record, results)
    data_rows = table[table["kind"] == "data"]
    return WindowOutcome(
        run_id=run_id, dataset=data.name, window_start=start.to_pydatetime(), window_end=end.to_pydatetime(),
        rows=len(rows), labelled=labels is not None,
        share_drifted=float(data_rows["share_drifted"].iloc[0]) if len(data_rows) else 0.0,
        dataset_drifted=bool(data_rows["dataset_drifted"].iloc[0]) if len(data_rows) else False,
    )


def _summary_rows(
    suite: SuiteSpec, data: LoadedDataset, table: pd.DataFrame, window: LoadedDataset,
    preds: dict[str, pd.DataFrame], labels: pd.Series | None, calibrators: dict[str, Calibrator],
) -> pd.DataFrame:
    rows = []
    n = len(window.frame)

    def add(model: str, metric: str, value: float, low: float = np.nan, high: float = np.nan, version: str = "1", count: int = n) -> None:
        role = next((m.role for m in suite.models if m.name == model), "data")
        sha = next((m.sha256 or code_sha256(m, suite) for m in suite.models if m.name == model), data.sha256)
        rows.append({"dataset": data.name, "model": model, "model_sha": sha, "role": role, "variant": "clean", "slice": "all",
                     "metric": metric, "metric_version": version, "value": value, "ci_low": low, "ci_high": high, "n": count})

    for (kind, model), group in table.groupby(["kind", "model"], sort=False):
        metric = {"data": "drift_share", "prediction": "prediction_drift_share", "target": "target_drift_share",
                  "multivariate": "multivariate_drift"}[kind]
        add(model or "data", metric, float(group["share_drifted"].iloc[0]))
    if suite.task != "classification":
        return pd.DataFrame(rows)
    for model, frame in preds.items():
        scores = _scores(frame)
        estimate = estimate_performance(scores, confidence=suite.bootstrap.confidence, seed=suite.seed, calibrator=calibrators.get(model))
        add(model, "accuracy_estimated", estimate.accuracy, estimate.accuracy_low, estimate.accuracy_high, ESTIMATE_VERSION)
        add(model, "macro_f1_estimated", estimate.macro_f1, estimate.macro_f1_low, estimate.macro_f1_high, ESTIMATE_VERSION)
        if labels is None:
            continue
        y_true = labels.to_numpy(dtype=np.int64)
        check = compare_with_labels(estimate, y_true, scores)
        add(model, "accuracy_estimate_error", check.accuracy_estimate - check.accuracy, version=ESTIMATE_VERSION)
        add(model, "macro_f1_estimate_error", check.macro_f1_estimate - check.macro_f1, version=ESTIMATE_VERSION)
        realised = score_predictions(y_true, scores, task=suite.task, metric_names=suite.metric_names(),
                                     masks={"all": np.ones(len(y_true), dtype=bool)}, bootstrap=suite.bootstrap, seed=suite.seed)
        for r in realised:
            add(model, r.metric, r.value, r.ci_low, r.ci_high, r.metric_version, r.n)
    return pd.DataFrame(rows)


def _scores(frame: pd.DataFrame) -> np.ndarray:
    scores = frame[sorted((c for c in frame.columns if c.startswith("score_")), key=lambda c: int(c[6:]))].to_numpy(dtype=np.float64)
    return scores / scores.sum(axis=1, keepdims=True)


def _calibrators(suite: SuiteSpec, reference: DriftSide, labels: pd.Series | None) -> dict[str, Calibrator]:
    """Per model, the calibrator fitted once on the reference's scores and labels (identity without labels)."""
    if suite.task != "classification" or labels is None:
        return {m: IDENTITY for m in reference.predictions}
    y = labels.to_numpy(dtype=np.int64)
    return {m: fit_calibrator(_scores(p), y, seed=suite.seed) for m, p in reference.predictions.items()}


def _classes(suite: SuiteSpec, settings: Settings) -> list[int | str] | None:
    if suite.task != "classification":
        return None
    if suite.classes is not None:
        return list(suite.classes)
    reference = load_dataset(next(d for d in suite.datasets if d.name == suite.drift.reference), suite)  # type: ignore[union-attr]
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
