"""What a metric is: a pure function over arrays plus its metadata.

Every metric also knows how to score many bootstrap resamples at once. A
resample is given as row multiplicities ``counts`` of shape ``(B, n)`` (row
``i`` drawn ``counts[b, i]`` times), so a metric that is a reduction of per-row
statistics (accuracy, log loss, MAE, ...) scores all ``B`` resamples with one
matrix product instead of ``B`` passes over copied rows.

Example:
    >>> import numpy as np
    >>> mean_abs = Metric.from_row_sums(
    ...     name="mean_abs", task="regression", higher_is_better=False, version="1",
    ...     rows=lambda y, s: np.abs(y - s)[:, None],
    ...     reduce=row_mean,
    ... )
    >>> mean_abs(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    0.75
    >>> mean_abs.resampled(np.array([1.0, 2.0]), np.array([1.5, 1.0]))(np.array([[2.0, 0.0]]))
    array([0.5])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from suite.registry import Registry

Task = Literal["classification", "regression"]
#: Scores resamples: row multiplicities ``(B, n)`` -> one value per resample ``(B,)``.
Resampled = Callable[[np.ndarray], np.ndarray]
#: Prepares a :data:`Resampled` scorer from ``(y_true, scores)`` once per slice.
Prepare = Callable[[np.ndarray, np.ndarray], Resampled]
#: Per-row statistics ``(y_true, scores) -> (n, m)`` of a row-sum metric.
RowStats = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``(sums (B, m), total weight (B,)) -> (B,)`` values of a row-sum metric.
Reduce = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``(y_true, scores) -> (n,)`` non-negative integer cell of each row; rows of one cell have equal statistics.
Cells = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A named metric with its direction and version.

    Attributes:
        name: Registry name, stored with results.
        task: ``"classification"`` (``y_true`` int classes, ``scores`` ``(n, k)``
            probabilities) or ``"regression"`` (both float ``(n,)``).
        higher_is_better: Direction, used by gates and reports.
        version: Stored with every result; history compares within a version.
        fn: ``(y_true, scores) -> value``; NaN where the metric is undefined.
        prepare: Optional fast path for bootstrap resamples (see module doc);
            :meth:`resampled` falls back to copying rows when absent.
        across_classes: The value compares classes with each other (macro F1, ROC AUC), so
            it means nothing on a slice that holds one true class; reports leave it out there.
        rows: For a row-sum metric (:meth:`from_row_sums`), its per-row statistics;
            large slices get their interval from these statistics' moments
            (:mod:`evaluators.intervals`) instead of resampled rows.
        reduce: For a row-sum metric, the map from summed statistics to values.
        cells: For a row-sum metric whose per-row statistics depend on a few
            discrete values of the row itself only (true and predicted class),
            the cell of each row: the bootstrap of a large slice then resamples
            the table of cell counts, which is exact and costs nothing per row
            (``rows`` is evaluated on one row per cell).
        rows_need_all: The per-row statistics depend on the whole batch (R² centres ``y`` on its
            mean), so they cannot be computed chunk by chunk: :mod:`evaluators.chunked` keeps such
            a metric's rows and scores them whole.
        interval_kind: Which interval a large slice gets when the metric is not a row-sum
            one (``"delong"`` for ROC AUC); ``None``: the exact row bootstrap at every size.
    """

    name: str
    task: Task
    higher_is_better: bool
    version: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    prepare: Prepare | None = None
    across_classes: bool = False
    rows: RowStats | None = None
    reduce: Reduce | None = None
    cells: Cells | None = None
    interval_kind: str | None = None
    rows_need_all: bool = False

    def __call__(self, y_true: np.ndarray, scores: np.ndarray) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(scores)))

    def resampled(self, y_true: np.ndarray, scores: np.ndarray) -> Resampled:
        """A scorer of resamples given as row multiplicities ``(B, n)``."""
        y_true, scores = np.asarray(y_true), np.asarray(scores)
        if self.prepare is not None:
            return self.prepare(y_true, scores)

        def by_copying(counts: np.ndarray) -> np.ndarray:
            reps = counts.astype(np.int64)
            return np.array([self(np.repeat(y_true, r), np.repeat(scores, r, axis=0)) for r in reps])

        return by_copying

    @classmethod
    def from_prepare(
        cls, *, name: str, task: Task, higher_is_better: bool, version: str, prepare: Prepare
    ) -> Metric:
        """A metric whose value is its resample scorer applied to every row once."""

        def fn(y_true: np.ndarray, scores: np.ndarray) -> float:
            if len(y_true) == 0:
                return float("nan")
            return float(prepare(y_true, scores)(np.ones((1, len(y_true))))[0])

        return cls(name, task, higher_is_better, version, fn, prepare)

    @classmethod
    def from_row_sums(
        cls,
        *,
        name: str,
        task: Task,
        higher_is_better: bool,
        version: str,
        rows: RowStats,
        reduce: Reduce,
        cells: Cells | None = None,
    ) -> Metric:
        """A metric computed from weighted sums of per-row statistics.

        Args:
            name: Registry name.
            task: Task the metric applies to.
            higher_is_better: Direction.
            version: Result version.
            rows: ``(y_true, scores) -> (n, m)`` per-row statistics (``n >= 1``).
            reduce: ``(sums (B, m), total weight (B,)) -> (B,)`` values; it must
                give NaN where the total weight is zero.
            cells: Optional ``(y_true, scores) -> (n,)`` integer cell per row, such
                that rows of one cell have equal statistics (e.g.
                :func:`true_and_predicted`); declares that the cell-table bootstrap is exact.
        """

        def prepare(y_true: np.ndarray, scores: np.ndarray) -> Resampled:
            stats = np.asarray(rows(y_true, scores), dtype=np.float64)

            def values(counts: np.ndarray) -> np.ndarray:
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.asarray(reduce(counts @ stats, counts.sum(axis=1)), dtype=np.float64)

            return values

        metric = cls.from_prepare(
            name=name, task=task, higher_is_better=higher_is_better, version=version, prepare=prepare
        )
        return replace(metric, rows=rows, reduce=reduce, cells=cells)


#: Every metric, registered by its own file under its name.
METRICS: Registry[Metric] = Registry("metric", Metric)


def row_mean(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The :data:`Reduce` of a mean of one per-row statistic: ``sums[:, 0] / total`` (NaN at zero weight).

    Example:
        >>> row_mean(np.array([[3.0], [0.0]]), np.array([4.0, 2.0])).tolist()
        [0.75, 0.0]
    """
    return sums[:, 0] / total


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` float indicator matrix of integer ``labels`` in ``0..k-1``."""
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def true_and_predicted(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The cell ``true * k + argmax`` of each row of ``k``-class scores, in ``0..k²-1``.

    Example:
        >>> true_and_predicted(np.array([0, 1]), np.array([[0.2, 0.8], [0.3, 0.7]])).tolist()
        [1, 3]
    """
    return np.asarray(y_true, dtype=np.int64) * scores.shape[1] + scores.argmax(axis=1)
