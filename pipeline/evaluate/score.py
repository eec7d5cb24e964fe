"""Stage 3: score every model × dataset × variant's predictions, per slice, with CIs.

Predictions come from the content-addressed cache; the run's own copy is
written to its staging folder, and the long results table to ``results.parquet``
there. Returns the staged results' path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from evaluators.metrics.base import Metric
from evaluators.metrics.expected_cost import cost_metric
from evaluators.chunked import ChunkedScorer
from evaluators.paired_chunked import ChunkedPairedScorer, PairedTest
from evaluators.slices import PackedMasks, slice_masks
from pipeline.evaluate.plan import RunPlan, WorkItem
from pipeline.progress import report
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID, LoadedDataset
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


PredictionChunk = tuple[np.ndarray, np.ndarray, np.ndarray]


def aligned_chunks(first: Iterable[PredictionChunk], second: Iterable[PredictionChunk], *, where: str) -> Iterator[tuple[PredictionChunk, PredictionChunk]]:
    """Equal-length pieces of two ``(sample ids, labels, outputs)`` chunk streams over the same rows, cut where either's chunk ends.

    Raises:
        DataError: the streams hold different sample ids at the same position, or different row counts.

    Example:
        >>> ids = np.arange(5)
        >>> one = [(ids[:3], ids[:3], ids[:3]), (ids[3:], ids[3:], ids[3:])]
        >>> two = [(ids[:2], ids[:2], ids[:2]), (ids[2:], ids[2:], ids[2:])]
        >>> [len(a[0]) for a, _ in aligned_chunks(one, two, where="x")]
        [2, 1, 2]
    """
    streams = [iter(first), iter(second)]
    pending: list[PredictionChunk | None] = [None, None]
    while True:
        for side in (0, 1):
            while pending[side] is None or len(pending[side][0]) == 0:  # type: ignore[index]
                pending[side] = next(streams[side], None)
                if pending[side] is None:
                    break
        a, b = pending
        if a is None or b is None:
            if a is not None or b is not None:
                raise DataError(f"{where}: expected both models' predictions on the same rows, got different row counts")
            return
        size = min(len(a[0]), len(b[0]))
        head_a, head_b = tuple(x[:size] for x in a), tuple(x[:size] for x in b)
        if not np.array_equal(head_a[0], head_b[0]):
            raise DataError(f"{where}: expected both models' predictions on the same rows in the same order, got other sample ids")
        yield head_a, head_b  # type: ignore[misc]
        pending = [None if size == len(a[0]) else tuple(x[size:] for x in a),  # type: ignore[list-item]
                   None if size == len(b[0]) else tuple(x[size:] for x in b)]


class DatasetRows:
    """Where each chunk of a stream of predictions lies in the dataset, checked: the rows ``at..`` (predictions in
    dataset order, the usual case), else positions looked up by sample id (the index built once, on the first miss).

    Example:
        >>> rows = DatasetRows(np.array([10, 11, 12, 13]), "here")
        >>> rows.of(np.array([11, 12]), 1), rows.of(np.array([13, 10]), 2).tolist()
        (slice(1, 3, None), [3, 0])
    """

    def __init__(self, data_ids: np.ndarray, where: str, positions_of: pd.Index | None = None) -> None:
        self.data_ids, self.where, self._index = data_ids, where, positions_of

    def of(self, chunk_ids: np.ndarray, at: int) -> slice | np.ndarray:
        """The dataset rows of a chunk stored from row ``at``.

        Raises:
            DataError: more rows than the dataset's, or sample ids the dataset lacks.
        """
        stop = at + len(chunk_ids)
        if stop > len(self.data_ids):
            raise DataError(f"{self.where}: expected {len(self.data_ids)} rows (the dataset's), got more")
        if np.array_equal(self.data_ids[at:stop], chunk_ids):
            return slice(at, stop)
        if self._index is None:
            self._index = pd.Index(self.data_ids)
        positions = self._index.get_indexer(chunk_ids)
        if (positions < 0).any():
            raise DataError(f"{self.where}: expected the dataset's sample ids, got {int((positions < 0).sum())} unknown (e.g. {chunk_ids[positions < 0][0]})")
        return positions

    def masks(self, masks: PackedMasks, chunk_ids: np.ndarray, at: int) -> dict[str, np.ndarray]:
        """The slice masks (over the dataset's rows) at a chunk's rows."""
        rows = self.of(chunk_ids, at)
        return masks.rows(rows.start, rows.stop) if isinstance(rows, slice) else masks.at(rows)


def chunk_masks(masks: PackedMasks, data_ids: np.ndarray, chunk_ids: np.ndarray, at: int,
                where: str, positions_of: pd.Index | None = None) -> dict[str, np.ndarray]:
    """The slice masks (over the dataset's rows) at a chunk's rows, stored from row ``at`` (see :class:`DatasetRows`;
    ``positions_of``: the index of ``data_ids``, passed to save building one for a chunk out of order).

    Raises:
        DataError: more rows than the dataset's, or sample ids the dataset lacks.
    """
    return DatasetRows(data_ids, where, positions_of).masks(masks, chunk_ids, at)


def stream_pair(cache: PredictionCache, keys: tuple[str, str], data: LoadedDataset, task: str, scorers: Sequence[ChunkedPairedScorer],
                masks: PackedMasks | None, where: str) -> list[dict[str, PairedTest]]:
    """Two models' cached predictions on ``data`` (``keys``: first the one tested, then the one it is compared with) streamed
    side by side, once, through every one of ``scorers``; each scorer's tests per slice. ``masks``: the dataset's slices
    (None: the whole dataset as ``all``).

    Raises:
        DataError: the files disagree on their rows, or hold other than the dataset's rows.
    """
    at, rows = 0, DatasetRows(data.sample_ids, where)
    for (ids, y, first), (_, _, second) in aligned_chunks(*(prediction_chunks(cache, key, task) for key in keys), where=where):
        if masks is None:
            rows.of(ids, at)  # the dataset's rows, checked
            chunk = {"all": np.ones(len(ids), dtype=bool)}
        else:
            chunk = rows.masks(masks, ids, at)
        for scorer in scorers:
            scorer.add(ids, y, first, second, chunk)
        at += len(ids)
    if at != data.rows:
        raise DataError(f"{where}: expected {data.rows} rows (the dataset's), got {at}")
    return [scorer.results() for scorer in scorers]


def _score_item(suite: SuiteSpec, plan: RunPlan, item: WorkItem, cache: PredictionCache, key: str,
                masks: PackedMasks) -> pd.DataFrame:
    """One work item's results, its predictions streamed through a :class:`ChunkedScorer`: the driver
    holds a chunk, the slice masks and per-slice summaries, never float64 copies of all scores."""
    data = plan.data(item.dataset)
    where = f"run {plan.run_id}: predictions for {item.model}/{item.dataset}/{item.variant}"
    scorer = ChunkedScorer(task=suite.task, metric_names=suite.metric_names(), bootstrap=suite.bootstrap,
                           seed=plan.seed, extra_metrics=suite_metrics(suite, plan.classes))
    at, rows = 0, DatasetRows(data.sample_ids, where)
    for chunk_ids, y_true, scores in prediction_chunks(cache, key, suite.task):
        scorer.add(y_true, scores, rows.masks(masks, chunk_ids, at))
        at += len(chunk_ids)
    if at != data.rows:
        raise DataError(f"predictions {key}: expected {data.rows} rows (the dataset's), got {at}")
    model = plan.model(item.model)
    frame = pd.DataFrame([r.__dict__ for r in scorer.results()])
    return frame.assign(
        run_id=plan.run_id, suite=plan.suite_name, suite_hash=plan.suite_hash, dataset=item.dataset,
        model=item.model, model_sha=model.sha256, role=model.role, variant=item.variant,
    )


def score_run(plan: RunPlan, settings: Settings) -> str:
    """Score all of the run's work items; returns the staged results' path.

    Predictions stream a row group at a time through a :class:`~evaluators.chunked.ChunkedScorer`;
    slice masks come from the dataset's kept columns (never its features), taken per chunk by
    position when the predictions are in dataset order.
    """
    suite = plan.suite
    store, cache = ResultStore(settings), PredictionCache(settings.cache_dir)
    frames, items = [], plan.work_items()
    masks: dict[str, PackedMasks] = {}
    for done, item in enumerate(items):
        key = plan.cache_key(item.model, item.dataset, item.variant)
        if not cache.has(key):
            raise DataError(f"run {plan.run_id}: predictions for {item.model}/{item.dataset}/{item.variant} are missing")
        store.stage_predictions_file(plan.run_id, item.dataset, item.model, item.variant, cache.path(key))
        if item.dataset not in masks:
            masks[item.dataset] = PackedMasks(slice_masks(plan.data(item.dataset).meta, suite.slices))
        frames.append(_score_item(suite, plan, item, cache, key, masks[item.dataset]))
        report("score", done + 1, len(items), f"{item.model} · {item.variant}")
    results = pd.concat(frames, ignore_index=True).assign(created_at=datetime.now(UTC))
    path = staged_results_path(store, plan.run_id)
    write_frame(path, results[RESULT_COLUMNS])
    return str(path)
