"""Stage 3: score every model × dataset × variant's predictions, per slice, with CIs.

Predictions come from the content-addressed cache; the run's own copy is
written to its staging folder, and the long results table to ``results.parquet``
there. Returns the staged results' path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from evaluators.metrics.base import Metric
from evaluators.metrics.expected_cost import cost_metric
from evaluators.scoring import score_predictions
from evaluators.slices import slice_masks
from pipeline.evaluate.plan import RunPlan, WorkItem
from pipeline.progress import report
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID
from storage.frames import write_frame
from storage.store import ResultStore
from suite.errors import DataError
from suite.settings import Settings
from suite.spec import SuiteSpec

RESULT_COLUMNS = [
    "run_id", "suite", "suite_hash", "dataset", "model", "model_sha", "role", "variant",
    "slice", "metric", "metric_version", "value", "ci_low", "ci_high", "n", "created_at", "ci_method",
]
"""Columns of the staged ``results.parquet``, those of :data:`storage.records.RESULT_COLUMNS`; the commit
keeps ``ci_method`` in the committed Parquet results and in the index."""


def prediction_arrays(frame: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, scores) from a predictions frame: scores are (n, k) for classification."""
    y_true = frame["y_true"].to_numpy()
    if task == "classification":
        cols = sorted((c for c in frame.columns if c.startswith("score_")), key=lambda c: int(c[6:]))
        return y_true.astype(np.int64), frame[cols].to_numpy(dtype=np.float64)
    return y_true.astype(np.float64), frame["y_pred"].to_numpy(dtype=np.float64)


def suite_metrics(suite: SuiteSpec, classes: list[int | str] | None) -> list[Metric]:
    """Metrics the suite defines itself (a cost matrix), scored beside the registered ones."""
    if suite.costs is None or classes is None:
        return []
    return [cost_metric(suite.costs.as_array(len(classes), classes))]


def staged_results_path(store: ResultStore, run_id: str) -> Path:
    """Where the scored results of ``run_id`` wait for the commit."""
    return store.staging_dir(run_id) / "results.parquet"


def prediction_chunks(cache: PredictionCache, key: str, task: str, batch_rows: int = 65_536) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The cached predictions of ``key`` a row group's worth at a time: ``(sample ids, y_true, scores)``, in stored order.

    Classification scores are float32 ``(rows, k)`` and labels int32; regression gives float64
    ``y_true`` and ``y_pred``. A consumer that accumulates per slice takes the slice masks (or
    codes) at the same positions: predictions are stored in the dataset's row order.
    """
    if task == "classification":
        score_columns = sorted((c for c in cache.columns(key) if c.startswith("score_")), key=lambda c: int(c[6:]))
        for chunk in cache.chunks(key, [SAMPLE_ID, "y_true", *score_columns], batch_rows):
            scores = np.empty((len(chunk[SAMPLE_ID]), len(score_columns)), dtype=np.float32)
            for k, name in enumerate(score_columns):
                scores[:, k] = chunk[name]
            yield chunk[SAMPLE_ID].astype(np.int64, copy=False), chunk["y_true"].astype(np.int32), scores
    else:
        for chunk in cache.chunks(key, [SAMPLE_ID, "y_true", "y_pred"], batch_rows):
            yield chunk[SAMPLE_ID].astype(np.int64, copy=False), chunk["y_true"].astype(np.float64), chunk["y_pred"].astype(np.float64)


def compact_predictions(cache: PredictionCache, key: str, task: str, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample ids, y_true, scores) of ``key`` as whole compact arrays, filled chunk by chunk (no frame).

    Scoring still takes whole arrays (float64 scores, the evaluators' input); once the interval
    code takes chunks, :func:`prediction_chunks` can feed it directly.
    """
    ids = np.empty(rows, dtype=np.int64)
    y_true: np.ndarray | None = None
    scores: np.ndarray | None = None
    at = 0
    for chunk_ids, chunk_y, chunk_scores in prediction_chunks(cache, key, task):
        stop = at + len(chunk_ids)
        if stop > rows:
            raise DataError(f"predictions {key}: expected {rows} rows (the dataset's), got more")
        if y_true is None or scores is None:
            y_true = np.empty(rows, dtype=np.int64 if task == "classification" else np.float64)
            scores = np.empty((rows, *chunk_scores.shape[1:]), dtype=np.float64)
        ids[at:stop], y_true[at:stop], scores[at:stop] = chunk_ids, chunk_y, chunk_scores
        at = stop
    if at != rows or y_true is None or scores is None:
        raise DataError(f"predictions {key}: expected {rows} rows (the dataset's), got {at}")
    return ids, y_true, scores


def aligned_masks(masks: dict[str, np.ndarray], data_ids: np.ndarray, pred_ids: np.ndarray, where: str) -> dict[str, np.ndarray]:
    """The slice masks (over the dataset's rows) at the predictions' rows: as they are when the order is the same."""
    if np.array_equal(data_ids, pred_ids):
        return masks
    positions = pd.Index(data_ids).get_indexer(pred_ids)
    if (positions < 0).any():
        raise DataError(f"{where}: expected the dataset's sample ids, got {int((positions < 0).sum())} unknown (e.g. {pred_ids[positions < 0][0]})")
    return {name: mask[positions] for name, mask in masks.items()}


def _score_item(suite: SuiteSpec, plan: RunPlan, item: WorkItem, y_true: np.ndarray, scores: np.ndarray,
                masks: dict[str, np.ndarray]) -> pd.DataFrame:
    results = score_predictions(
        y_true, scores, task=suite.task, metric_names=suite.metric_names(), masks=masks,
        bootstrap=suite.bootstrap, seed=plan.seed, extra_metrics=suite_metrics(suite, plan.classes),
    )
    model = plan.model(item.model)
    frame = pd.DataFrame([r.__dict__ for r in results])
    return frame.assign(
        run_id=plan.run_id, suite=plan.suite_name, suite_hash=plan.suite_hash, dataset=item.dataset,
        model=item.model, model_sha=model.sha256, role=model.role, variant=item.variant,
    )


def score_run(plan: RunPlan, settings: Settings) -> str:
    """Score all of the run's work items; returns the staged results' path.

    Predictions are read a row group at a time into compact arrays; slice masks come from the
    dataset's kept columns (never its features), by position when the predictions are in dataset order.
    """
    suite = plan.suite
    store, cache = ResultStore(settings), PredictionCache(settings.cache_dir)
    frames, items = [], plan.work_items()
    masks: dict[str, dict[str, np.ndarray]] = {}
    for done, item in enumerate(items):
        key = plan.cache_key(item.model, item.dataset, item.variant)
        if not cache.has(key):
            raise DataError(f"run {plan.run_id}: predictions for {item.model}/{item.dataset}/{item.variant} are missing")
        store.stage_predictions_file(plan.run_id, item.dataset, item.model, item.variant, cache.path(key))
        data = plan.data(item.dataset)
        if item.dataset not in masks:
            masks[item.dataset] = slice_masks(data.meta, suite.slices)
        ids, y_true, scores = compact_predictions(cache, key, suite.task, data.rows)
        where = f"run {plan.run_id}: predictions for {item.model}/{item.dataset}/{item.variant}"
        frames.append(_score_item(suite, plan, item, y_true, scores, aligned_masks(masks[item.dataset], data.sample_ids, ids, where)))
        del ids, y_true, scores
        report("score", done + 1, len(items), f"{item.model} · {item.variant}")
    results = pd.concat(frames, ignore_index=True).assign(created_at=datetime.now(UTC))
    path = staged_results_path(store, plan.run_id)
    write_frame(path, results[RESULT_COLUMNS])
    return str(path)
