"""Paired tests of a candidate against a baseline, their predictions streamed in chunks.

A drop-vs-baseline gate compares two models on the same rows, per slice. Reading
both models' predictions whole (as frames, sorted, widened to float64) took
several GB at 10M rows. :class:`ChunkedPairedScorer` takes aligned chunks of
both (sample ids, labels, each model's scores, each slice's mask) and keeps per
slice only what its test needs, as :class:`~evaluators.chunked.ChunkedScorer`
does for one model:

- while a slice holds at most ``exact_max_rows`` rows, its rows: a slice that ends
  up that small is tested by :func:`~evaluators.statistics.paired_bootstrap_diff`
  itself on them, ordered by sample id as the whole-frame path ordered them, so
  its results are identical (same seed, same exact paired bootstrap);
- for a row-sum metric on a larger slice, the joint summary of both models: a
  :class:`~evaluators.intervals.cells.CellTable` over (true, predicted by the
  candidate, predicted by the baseline) for cell metrics (the same multinomial
  tables the whole-array path draws), :class:`~evaluators.intervals.moments.SkewMoments`
  of the two models' statistics side by side for the others;
- for ROC AUC (DeLong), R² and metrics without sufficient statistics, the slice's
  rows (labels and both models' float32 scores, stored once however many slices
  hold them: :class:`~evaluators.kept_rows.KeptRows`); a large slice's AUC reads
  them one class column of one model at a time for DeLong's influences, the others
  are tested whole at the end. Given ``columns`` (a run's gates read them from the
  prediction files), a large slice's AUC keeps no scores at all: the labels once,
  a bit per row per slice, and each model's class columns read whole when the test
  runs, one at a time (at 10M rows and 10 classes, 4 bytes per row instead of 84);
- McNemar's discordant counts (candidate right and baseline wrong, and the reverse),
  where the gate asks for them: two integers per slice.

Example:
    >>> from evaluators.metrics import get_metric
    >>> y = np.array([0, 1, 1, 0])
    >>> a, b = np.eye(2)[[0, 1, 1, 1]], np.eye(2)[[0, 1, 0, 1]]
    >>> scorer = ChunkedPairedScorer(get_metric("accuracy", "classification"), task="classification", resamples=50,
    ...                              confidence=0.95, seed=0, mcnemar=True)
    >>> for rows in (slice(0, 2), slice(2, 4)):
    ...     scorer.add(np.arange(4)[rows], y[rows], a[rows], b[rows], {"all": np.ones(2, bool)})
    >>> test = scorer.results()["all"]
    >>> test.diff.diff, test.diff.n, (test.mcnemar.b, test.mcnemar.c)
    (0.25, 4, (1, 0))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from evaluators.chunked import checked_masks
from evaluators.intervals import BOOTSTRAP, DELONG, EXACT_MAX_ROWS, CellTable, interval_method
from evaluators.intervals.delong import ScoreColumns
from evaluators.intervals.moments import SkewMoments
from evaluators.kept_rows import KeptRows, Positions
from evaluators.metrics.base import Metric
from evaluators.scoring import checked_predictions
from evaluators.statistics import McNemar, MetricFn, PairedDiff, delong_paired_diff, mcnemar_counts, paired_bootstrap_diff, paired_diff_from_summary
from suite.errors import DataError

_CELL_BASE = 1 << 31
"""Joint cell code = candidate's cell · base + baseline's: sorts as (candidate's, baseline's), as the whole-array path's codes do."""


@dataclass(frozen=True)
class PairedTest:
    """One slice's paired evidence: the difference candidate − baseline, and McNemar's test where asked."""

    diff: PairedDiff
    mcnemar: McNemar | None = None


@dataclass
class _PairSlice:
    n: int = 0
    kept: list[Positions] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)
    summary: CellTable | SkewMoments | None = None
    b: int = 0
    c: int = 0


class ChunkedPairedScorer:
    """Accumulates aligned chunks of two models' predictions per slice; :meth:`results` gives each slice's :class:`PairedTest`.

    Args:
        metric: The gated metric (a :class:`~evaluators.metrics.base.Metric` enables summaries).
        task: ``"classification"`` or ``"regression"``.
        resamples: Bootstrap resamples.
        confidence: Two-sided confidence of the interval.
        seed: Seed of the resampling (the same for every slice, as the gate's whole-array path).
        mcnemar: Count the discordant pairs for McNemar's exact test.
        exact_max_rows: Slices of at most this many rows get the exact paired bootstrap.
        columns: For ROC AUC, ``(model, c) -> `` model ``model``'s (0: a, 1: b) scores of class ``c`` over every row
            added, in the order added (read from the prediction files): a large slice then keeps no scores, only a bit
            per row, and the labels are kept once (4 bytes per row) for all slices.
    """

    def __init__(self, metric: MetricFn, *, task: str, resamples: int, confidence: float, seed: int, mcnemar: bool = False,
                 exact_max_rows: int = EXACT_MAX_ROWS, columns: Callable[[int, int], np.ndarray] | None = None) -> None:
        self.metric, self.task, self.resamples, self.confidence, self.seed = metric, task, resamples, confidence, seed
        self.mcnemar, self.exact_max_rows = mcnemar, exact_max_rows
        self._summarised = isinstance(metric, Metric) and metric.rows is not None and metric.reduce is not None and not metric.rows_need_all
        self._delong = isinstance(metric, Metric) and task == "classification" and interval_method(metric, exact_max_rows + 1, exact_max_rows) == DELONG
        # DeLong from whole columns read when the test runs: large slices keep only the labels (once) and a bit per row
        self._columns = columns if self._delong else None
        self._labels: list[np.ndarray] = []
        self._bits: dict[str, list[np.ndarray]] = {}
        # rows kept past exact_max_rows are ordered by id only where the test resamples rows
        self._large_needs_order = not isinstance(metric, Metric) or interval_method(metric, exact_max_rows + 1, exact_max_rows) == BOOTSTRAP
        self._slices: dict[str, _PairSlice] = {}
        self._kept = KeptRows()
        self._k: int | None = None

    def add(self, ids: np.ndarray, y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, masks: dict[str, np.ndarray]) -> None:
        """Add one chunk: sample ids, labels, each model's outputs on those rows, and every slice's mask over them.

        Raises:
            DataError: predictions or masks of the wrong shape, or slices other than the first chunk's.
        """
        y_true, scores_a = checked_predictions(np.asarray(y_true), np.asarray(scores_a), self.task)
        _, scores_b = checked_predictions(y_true, np.asarray(scores_b), self.task)
        if scores_a.shape[1:] != scores_b.shape[1:]:
            raise DataError(f"paired predictions: expected the same output shape for both models, got {scores_a.shape[1:]} and {scores_b.shape[1:]}")
        k = scores_a.shape[1] if scores_a.ndim == 2 else 0
        if self._k is not None and k != self._k:
            raise DataError(f"paired predictions: expected {self._k} score columns in every chunk, got {k}")
        self._k = k
        if not self._slices:
            self._slices = {name: _PairSlice() for name in masks}
        masks = checked_masks(masks, list(self._slices), y_true.shape)
        if self._columns is not None:
            self._labels.append(y_true.astype(np.int32))
            for name, mask in masks.items():
                self._bits.setdefault(name, []).append(np.packbits(mask))
        keeping: dict[str, np.ndarray] = {}
        rows_past_limit = self._summarised or self._columns is not None  # a large slice needs no rows of its own
        for name, mask in masks.items():
            state, count = self._slices[name], int(np.count_nonzero(mask))
            state.n += count
            small = state.n <= self.exact_max_rows
            if not rows_past_limit or small:
                if count:
                    keeping[name] = mask
                if small or self._large_needs_order:
                    state.ids.append(np.asarray(ids)[mask])
                elif state.ids:  # past the exact path, DeLong and the normal sums do not depend on row order
                    state.ids = []
            elif state.kept:  # grew past the exact path: its summary takes over, its rows go
                state.kept, state.ids = [], []
                self._kept.keep_only(chunk for s in self._slices.values() for chunk, _ in s.kept)
        if keeping:
            both = np.column_stack([scores_a.reshape(len(y_true), -1), scores_b.reshape(len(y_true), -1)])
            for name, positions in zip(keeping, self._kept.add(y_true, both, keeping)):
                self._slices[name].kept.append(positions)
        if self._summarised:
            self._summarise(y_true, scores_a, scores_b, masks)
        if self.mcnemar:
            right_a, right_b = correct(y_true, scores_a), correct(y_true, scores_b)
            only_a, only_b = right_a & ~right_b, ~right_a & right_b
            for name, mask in masks.items():
                self._slices[name].b += int(np.count_nonzero(only_a & mask))
                self._slices[name].c += int(np.count_nonzero(only_b & mask))

    def _summarise(self, y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, masks: dict[str, np.ndarray]) -> None:
        """Merge the chunk into each slice's joint summary, statistics computed once per chunk (widened as the whole-array path sees them)."""
        metric = self.metric
        assert isinstance(metric, Metric) and metric.rows is not None
        y = y_true.astype(np.int64, copy=False) if self.task == "classification" else y_true
        a, b = scores_a.astype(np.float64, copy=False), scores_b.astype(np.float64, copy=False)
        if metric.cells is not None:
            cell_a, cell_b = (np.asarray(metric.cells(y, s), dtype=np.int64) for s in (a, b))
            if len(cell_b) and (cell_b.min() < 0 or cell_b.max() >= _CELL_BASE or cell_a.min() < 0 or cell_a.max() >= _CELL_BASE):
                raise DataError(f"metric {metric.name}: expected cell codes in [0, 2³¹), got {min(cell_a.min(), cell_b.min())}..{max(cell_a.max(), cell_b.max())}")
            occupied, first, inverse = np.unique(cell_a * _CELL_BASE + cell_b, return_index=True, return_inverse=True)
            cell_stats = np.hstack([np.asarray(metric.rows(y[first], s[first]), dtype=np.float64) for s in (a, b)])
        else:
            joint = np.hstack([np.asarray(metric.rows(y, s), dtype=np.float64) for s in (a, b)])
        for name, mask in masks.items():  # every slice from its first row: past exact_max_rows the summary stands for all of them
            if not mask.any():
                continue
            state = self._slices[name]
            if metric.cells is not None:
                per_cell = np.bincount(inverse[mask], minlength=len(occupied))
                present = per_cell > 0
                summary: CellTable | SkewMoments = CellTable(occupied[present], per_cell[present], cell_stats[present])
            else:
                summary = SkewMoments.of(joint[mask])
            state.summary = summary if state.summary is None else state.summary.merge(summary)  # type: ignore[arg-type]

    def results(self) -> dict[str, PairedTest]:
        """Each slice's test (first chunk's slice order)."""
        return {name: self._slice_result(name, state) for name, state in self._slices.items()}

    def _delong_from_columns(self, name: str) -> PairedDiff:
        """A large slice's DeLong test from the labels kept and each model's class columns read whole (``columns``), a column at a time."""
        assert self._columns is not None
        columns, k = self._columns, self._k or 0
        sizes = [len(y) for y in self._labels]
        mask = np.concatenate([np.unpackbits(bits, count=size).view(bool) for bits, size in zip(self._bits[name], sizes)])
        y = np.concatenate(self._labels)[mask]
        whole = mask.all()
        return delong_paired_diff(y, *(ScoreColumns(k, lambda c, m=model: columns(m, c) if whole else columns(m, c)[mask]) for model in (0, 1)),
                                  confidence=self.confidence)

    def _slice_result(self, name: str, state: _PairSlice) -> PairedTest:
        common = dict(resamples=self.resamples, confidence=self.confidence, seed=self.seed, exact_max_rows=self.exact_max_rows)
        if state.n > self.exact_max_rows and self._columns is not None:  # each model's class columns read whole, one at a time
            diff = self._delong_from_columns(name)
        elif state.n > self.exact_max_rows and self._delong:  # one class column of one model at a time, as they were kept (float32)
            k = self._k or 0
            y = self._kept.labels(state.kept)
            diff = delong_paired_diff(y, ScoreColumns(k, lambda c: self._kept.column(state.kept, c)),
                                      ScoreColumns(k, lambda c: self._kept.column(state.kept, k + c)), confidence=self.confidence)
        elif state.n <= self.exact_max_rows or not self._summarised:
            y, a, b = self._rows(state)
            diff = paired_bootstrap_diff(self.metric, y, a, b, **common)  # type: ignore[arg-type]
        else:
            assert isinstance(self.metric, Metric) and state.summary is not None
            diff = paired_diff_from_summary(self.metric, state.summary, resamples=self.resamples, confidence=self.confidence, seed=self.seed)
        return PairedTest(diff, mcnemar_counts(state.b, state.c) if self.mcnemar else None)

    def _rows(self, state: _PairSlice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A slice's kept labels and both models' outputs, widened as the whole-array path sees them, ordered by sample id where kept."""
        label_dtype = np.int64 if self.task == "classification" else np.float64
        width = self._k or 1
        if not state.kept:
            empty = np.empty((0, self._k) if self._k else 0, dtype=np.float64)
            return np.empty(0, dtype=label_dtype), empty, empty.copy()
        ys, both = self._kept.rows(state.kept)
        if state.ids:
            order = np.argsort(np.concatenate(state.ids), kind="stable")
            ys, both = ys[order], both[order]
        both = both.astype(np.float64)
        a, b = both[:, :width], both[:, width:]
        if not self._k:  # regression: one output per row
            a, b = a[:, 0], b[:, 0]
        return ys.astype(label_dtype), a, b


def correct(y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Whether each row's prediction (the arg-max of its scores, or the output itself) is its label."""
    predicted = np.argmax(outputs, axis=1) if outputs.ndim == 2 else outputs
    return predicted == y_true
