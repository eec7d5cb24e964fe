"""Stage 3: score every model × dataset × variant's predictions, per slice, with CIs.

Predictions come from the content-addressed cache; the run's own copy is
written to its staging folder, and the long results table to ``results.parquet``
there. Returns the staged results' path.
"""

from __future__ import annotations

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


def _score_item(suite: SuiteSpec, plan: RunPlan, item: WorkItem, preds: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    rows = data.set_index(SAMPLE_ID).loc[preds[SAMPLE_ID].to_numpy()].reset_index()
    masks = slice_masks(rows, suite.slices)
    y_true, scores = prediction_arrays(preds, suite.task)
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
    """Score all of the run's work items; returns the staged results' path."""
    suite = plan.suite
    store, cache = ResultStore(settings), PredictionCache(settings.cache_dir)
    frames, items = [], plan.work_items()
    data = {d.name: plan.data(d.name).frame for d in plan.datasets}
    for done, item in enumerate(items):
        key = plan.cache_key(item.model, item.dataset, item.variant)
        if not cache.has(key):
            raise DataError(f"run {plan.run_id}: predictions for {item.model}/{item.dataset}/{item.variant} are missing")
        preds = cache.get(key)
        store.write_predictions(plan.run_id, item.dataset, item.model, item.variant, preds)
        frames.append(_score_item(suite, plan, item, preds, data[item.dataset]))
        report("score", done + 1, len(items), f"{item.model} · {item.variant}")
    results = pd.concat(frames, ignore_index=True).assign(created_at=datetime.now(UTC))
    path = staged_results_path(store, plan.run_id)
    write_frame(path, results[RESULT_COLUMNS])
    return str(path)
