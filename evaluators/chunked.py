"""Score predictions that arrive in chunks, holding per slice only what its interval needs.

:func:`~evaluators.scoring.score_predictions` takes whole arrays and builds each metric's
per-row statistics for a whole slice: ``(n, 15)`` float64 for ECE, 1.2 GB at 10M rows.
:class:`ChunkedScorer` takes the same predictions a chunk at a time (with each slice's mask
over the chunk's rows) and keeps, per slice:

- its rows while it holds at most ``exact_max_rows`` (20,000) of them: a slice that ends up
  that small is scored by ``score_predictions`` itself on those rows, so its results are
  bit-identical to the whole-array path (same seed, same exact row bootstrap);
- per row-sum metric, the mergeable summary its large-slice interval needs: a
  :class:`~evaluators.intervals.cells.CellTable` for cell metrics (accuracy, macro F1, expected
  cost; exact), :class:`~evaluators.intervals.moments.SkewMoments` (mean, co-moments, third
  moment tensor) for the others. Values equal the whole-array ones up to float rounding of
  the sums (~1e-12 relative); intervals draw from the same seed;
- for ROC AUC (DeLong needs one sort of the slice's scores), R² (its rows are centred on the
  slice's mean: ``Metric.rows_need_all``) and any metric without sufficient statistics, all of
  the slice's rows: the one part whose memory still grows with the slice.

Kept rows live once in a :class:`~evaluators.kept_rows.KeptRows` store, in the dtype they came
in (float32 scores and int32 labels from the prediction cache: 44 bytes per row for 10
classes), however many slices hold them; a slice keeps only its positions there (none for a
chunk it holds whole: ``all``; 4 bytes per row otherwise). A large slice's AUC gathers its
scores one class at a time for DeLong (~32 bytes per row while it runs, freed after), so the
bench suite at 5M rows (5 metrics, ``all`` and 4 segments, 10 classes) peaks 0.46 GB above
the process, where a copy per slice and stable float64 sorts peaked at 1.04 GB
(``bench/chunked_scoring.py``).

Chunks are checked as ``score_predictions`` checks whole arrays. Each row-sum metric's
per-row statistics are computed once per chunk (statistics are per row: a metric whose rows
need the whole slice is kept, not summarised) and taken per slice by its mask, with labels
widened to int64 and scores to float64 first, as the whole-array path sees them (kept rows
stay as they came and are widened when scored).

Example:
    >>> from suite.spec import BootstrapSpec
    >>> y, p = np.array([0, 1, 1, 0]), np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    >>> scorer = ChunkedScorer(task="classification", metric_names=["accuracy"], bootstrap=BootstrapSpec(resamples=50), seed=0)
    >>> for rows in (slice(0, 2), slice(2, 4)):
    ...     scorer.add(y[rows], p[rows], {"all": np.ones(2, bool)})
    >>> [(r.slice, r.metric, r.value, r.n) for r in scorer.results()]
    [('all', 'accuracy', 0.75, 4)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluators.bootstrap import derive_seed
from evaluators.intervals import (
    DELONG,
    EXACT_MAX_ROWS,
    CellTable,
    delong_value_and_interval,
    interval_method,
    summary_interval,
    summary_value,
)
from evaluators.intervals.delong import ScoreColumns
from evaluators.intervals.moments import SkewMoments
from evaluators.kept_rows import KeptRows, Positions
from evaluators.metrics import get_metric
from evaluators.metrics.base import Metric
from evaluators.scoring import MetricResult, checked_predictions, score_predictions
from suite.errors import DataError
from suite.spec import BootstrapSpec

#: ``(y_true, scores, {slice: boolean mask over the chunk's rows})``.
Chunk = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]


def checked_masks(masks: dict[str, np.ndarray], slices: list[str], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """A chunk's slice masks as arrays, checked: the slices of the first chunk, in its order, each a boolean mask of ``shape``.

    Raises:
        DataError: other slices, or a mask of another dtype or shape.
    """
    if list(masks) != slices:
        raise DataError(f"chunk: expected the slices {slices}, got {list(masks)}")
    checked = {name: np.asarray(mask) for name, mask in masks.items()}
    for name, mask in checked.items():
        if mask.dtype != bool or mask.shape != shape:
            raise DataError(f"slice {name!r}: expected a boolean mask of shape {shape}, got {mask.dtype} of shape {mask.shape}")
    return checked


@dataclass
class _Slice:
    """What one slice has accumulated: its row count, where its kept rows are, its per-metric summaries."""

    n: int = 0
    kept: list[Positions] = field(default_factory=list)
    summaries: dict[int, CellTable | SkewMoments] = field(default_factory=dict)


class ChunkedScorer:
    """Accumulates chunks of predictions per slice; :meth:`results` equals ``score_predictions`` on the whole.

    Args:
        task: ``"classification"`` or ``"regression"``.
        metric_names: Registered metrics, scored in this order.
        bootstrap: Resamples and confidence.
        seed: Suite seed; each slice draws from ``derive_seed(seed, slice)``.
        extra_metrics: Scored after the named ones (a suite's cost metric).
        exact_max_rows: Slices of at most this many rows get the exact row bootstrap.

    Raises:
        VigilError: an unknown metric or one for the other task.
    """

    def __init__(self, *, task: str, metric_names: list[str], bootstrap: BootstrapSpec, seed: int,
                 extra_metrics: Sequence[Metric] = (), exact_max_rows: int = EXACT_MAX_ROWS) -> None:
        self.task, self.metric_names, self.bootstrap, self.seed = task, metric_names, bootstrap, seed
        self.extra_metrics, self.exact_max_rows = list(extra_metrics), exact_max_rows
        self.metrics = [get_metric(name, task) for name in metric_names] + self.extra_metrics
        self._summarised = [i for i, m in enumerate(self.metrics)
                            if m.rows is not None and m.reduce is not None and not m.rows_need_all]
        self._keep_all = len(self._summarised) < len(self.metrics)
        self._slices: dict[str, _Slice] = {}
        self._kept = KeptRows()
        self._k: int | None = None

    def add(self, y_true: np.ndarray, scores: np.ndarray, masks: dict[str, np.ndarray]) -> None:
        """Add one chunk: its labels, scores and every slice's mask over its rows.

        Raises:
            DataError: predictions or masks of the wrong shape, labels out of range, or slices
                other than the first chunk's.
        """
        y_true, scores = checked_predictions(np.asarray(y_true), np.asarray(scores), self.task)
        if self.task == "classification":
            if self._k is not None and scores.shape[1] != self._k:
                raise DataError(f"predictions: expected {self._k} score columns in every chunk, got {scores.shape[1]}")
            self._k = scores.shape[1]
        if not self._slices:
            self._slices = {name: _Slice() for name in masks}
        masks = checked_masks(masks, list(self._slices), y_true.shape)
        counts = {name: int(np.count_nonzero(mask)) for name, mask in masks.items()}
        keeping: dict[str, np.ndarray] = {}  # slices that keep this chunk's rows, and have some in it
        for name, count in counts.items():
            state = self._slices[name]
            state.n += count
            if self._keep_all or state.n <= self.exact_max_rows:
                if count:
                    keeping[name] = masks[name]
            elif state.kept:
                state.kept = []
                self._kept.keep_only(chunk for s in self._slices.values() for chunk, _ in s.kept)
        if keeping:
            for name, positions in zip(keeping, self._kept.add(y_true, scores, keeping)):
                self._slices[name].kept.append(positions)
        if self._summarised:
            self._summarise(y_true, scores, masks, counts)

    def _summarise(self, y_true: np.ndarray, scores: np.ndarray, masks: dict[str, np.ndarray], counts: dict[str, int]) -> None:
        """Merge the chunk's rows into each slice's summaries.

        Statistics are per row (``rows_need_all`` metrics are kept, not summarised): computed once
        for the chunk, on labels and scores widened as the whole-array path sees them, and taken
        per slice by its mask. A cell metric's rows of one cell share their statistics, so they
        are computed for one row per cell and a slice counts its rows per cell.
        """
        wide = scores.astype(np.float64, copy=False)
        y_wide = y_true.astype(np.int64, copy=False) if self.task == "classification" else y_true
        held = [(self._slices[name], mask, counts[name] == len(mask)) for name, mask in masks.items() if counts[name]]
        for i in self._summarised:
            metric = self.metrics[i]
            assert metric.rows is not None  # _summarised holds row-sum metrics only
            if metric.cells is not None:
                codes = np.asarray(metric.cells(y_wide, wide), dtype=np.int64)
                occupied, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
                cell_stats = np.asarray(metric.rows(y_wide[first], wide[first]), dtype=np.float64)
            else:
                stats = np.asarray(metric.rows(y_wide, wide), dtype=np.float64)
            for state, mask, whole in held:
                if metric.cells is not None:
                    per_cell = np.bincount(inverse if whole else inverse[mask], minlength=len(occupied))
                    present = per_cell > 0
                    summary: CellTable | SkewMoments = CellTable(occupied[present], per_cell[present], cell_stats[present])
                else:
                    summary = SkewMoments.of(stats if whole else stats[mask])
                old = state.summaries.get(i)
                state.summaries[i] = summary if old is None else old.merge(summary)  # type: ignore[arg-type]

    def _rows(self, state: _Slice) -> tuple[np.ndarray, np.ndarray]:
        """A slice's kept rows as whole arrays, labels widened as the whole-array path sees them (empty ones for an empty slice)."""
        if not state.kept:
            return (np.empty(0, dtype=np.int64 if self.task == "classification" else np.float64),
                    np.empty((0, self._k) if self._k is not None else 0, dtype=np.float64))
        ys, ss = self._kept.rows(state.kept)
        return (ys.astype(np.int64) if self.task == "classification" else ys), ss

    def results(self) -> list[MetricResult]:
        """Results for each slice (first chunk's order) and metric, as :func:`score_predictions` gives them."""
        results: list[MetricResult] = []
        for name, state in self._slices.items():
            results.extend(self._slice_results(name, state))
        return results

    def _slice_results(self, name: str, state: _Slice) -> list[MetricResult]:
        common = dict(task=self.task, bootstrap=self.bootstrap, seed=self.seed, exact_max_rows=self.exact_max_rows)
        if state.n <= self.exact_max_rows:
            ys, ss = self._rows(state)
            return score_predictions(ys, ss.astype(np.float64), metric_names=self.metric_names, extra_metrics=self.extra_metrics,
                                     masks={name: np.ones(len(ys), dtype=bool)}, **common)  # type: ignore[arg-type]
        by_index: dict[int, MetricResult] = {}
        kept = [i for i in range(len(self.metrics)) if i not in state.summaries]
        delong = [i for i in kept if self.metrics[i].interval_kind == DELONG]
        others = [i for i in kept if i not in delong]
        if delong:
            # DeLong gathers the slice's kept scores one class at a time, as they came (float32): the
            # slice's scores are never whole, nor widened. Value and interval come from one pass (the
            # Mann-Whitney value up to rounding), skipping the resample matrices of the exact path.
            k = self._k or 0
            ys = self._kept.labels(state.kept)
            columns = ScoreColumns(k, lambda c: self._kept.column(state.kept, c))
            value, low, high = delong_value_and_interval(ys, columns, self.bootstrap.confidence)
            del ys
            for i in delong:
                metric = self.metrics[i]
                by_index[i] = MetricResult(name, metric.name, metric.version, value, low, high, state.n, DELONG)
        if others:
            ys, ss = self._rows(state)
            scored = score_predictions(ys, ss.astype(np.float64), metric_names=[], masks={name: np.ones(len(ys), dtype=bool)},
                                       extra_metrics=[self.metrics[i] for i in others], **common)  # type: ignore[arg-type]
            by_index.update(zip(others, scored))
        slice_seed = derive_seed(self.seed, name)
        for i, summary in state.summaries.items():
            metric = self.metrics[i]
            value = summary_value(metric, summary)
            low, high = (float("nan"), float("nan"))
            if not np.isnan(value):
                low, high = summary_interval(metric, summary, resamples=self.bootstrap.resamples,
                                             confidence=self.bootstrap.confidence, seed=slice_seed)
            by_index[i] = MetricResult(name, metric.name, metric.version, value, low, high, state.n,
                                       interval_method(metric, state.n, self.exact_max_rows))
        return [by_index[i] for i in range(len(self.metrics))]


def score_chunks(chunks: Iterable[Chunk], **kwargs: object) -> list[MetricResult]:
    """:class:`ChunkedScorer` over ``chunks``; keyword arguments as its constructor's."""
    scorer = ChunkedScorer(**kwargs)  # type: ignore[arg-type]
    for y_true, scores, masks in chunks:
        scorer.add(y_true, scores, masks)
    return scorer.results()
