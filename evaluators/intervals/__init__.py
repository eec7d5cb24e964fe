"""Confidence intervals whose cost does not grow with rows × resamples.

The exact row bootstrap (:mod:`evaluators.bootstrap`) costs ``O(n·B)``: at a
million rows and 1,000 resamples it took 231 s of a 276 s run. Slices of at
most :data:`EXACT_MAX_ROWS` rows keep it, with the same seeds, so their results
are bit-identical to before. Larger slices get their interval from sufficient
statistics, chosen per metric and recorded with the result as its method:

- ``"bootstrap-cells"``: metrics that see a row only through its cell (true and
  predicted class: accuracy, macro F1, expected cost). Resampling rows only
  changes the cell counts, which are multinomial: ``B`` multinomial tables give
  the exact bootstrap distribution in ``O(cells·B)``.
- ``"normal-sums"``: other row-sum metrics (log loss, MAE, RMSE, R², ECE).
  The resampled sums of the per-row statistics are drawn from their normal
  approximation (mean and covariance of the rows, :mod:`.moments`), shifted
  along the metric's gradient to the third moment of the resampled mean
  (:func:`.moments.skew_corrected`), and mapped through the metric's own
  reduction; the interval is their percentile interval. For a smooth reduction this is the delta method; drawing instead of
  linearising also follows a reduction with a kink, as ECE's ``|·|`` per bin
  where a bin's gap is near zero and the linear delta method would be too narrow.
- ``"delong"``: ROC AUC, ``AUC ± z·se`` with DeLong's influence-function
  standard error (:mod:`.delong`), one sort per class.

Any other metric keeps the exact row bootstrap at every size.

Example:
    >>> from evaluators.metrics import get_metric
    >>> [interval_method(get_metric(name, "classification"), 10**6) for name in ("accuracy", "log_loss", "roc_auc")]
    ['bootstrap-cells', 'normal-sums', 'delong']
    >>> interval_method(get_metric("accuracy", "classification"), 500)
    'bootstrap'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evaluators.intervals.cells import CellTable
from evaluators.intervals.delong import ScoreColumns, auc_influence
from evaluators.intervals.moments import RowMoments, SkewMoments, skew_corrected
from evaluators.metrics.base import Metric
from evaluators.normal import norm_ppf

#: Slices of at most this many rows get the exact row bootstrap. At 20,000 rows
#: and 1,000 resamples it costs 1.3-2.2 s per metric on one (heavily shared) core
#: (bench/intervals.py), tolerable per slice; above it the approximations agree
#: with it to 0.001 (tests/evaluators/test_intervals.py) and the bootstrap's cost
#: keeps growing with n (about 95 s per metric extrapolated to 1M rows).
EXACT_MAX_ROWS = 20_000

BOOTSTRAP, CELLS, NORMAL_SUMS, DELONG = "bootstrap", "bootstrap-cells", "normal-sums", "delong"


def interval_method(metric: Metric, n: int, exact_max_rows: int = EXACT_MAX_ROWS) -> str:
    """The interval ``metric`` gets on a slice of ``n`` rows."""
    if n <= exact_max_rows:
        return BOOTSTRAP
    if metric.rows is not None and metric.reduce is not None:
        return CELLS if metric.cells is not None else NORMAL_SUMS
    return DELONG if metric.interval_kind == DELONG else BOOTSTRAP


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the finite ``values``; ``(nan, nan)`` with none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def _resampled_sums(metric: Metric, y_true: np.ndarray, outputs: list[np.ndarray], resamples: int,
                    rng: np.random.Generator, value_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Resampled sums ``(B, m·len(outputs))`` of the statistics of each output, side by side.

    With cells: multinomial tables over the joint cells of all outputs (for a
    pair, (true, predicted by a, predicted by b)), the statistics computed on
    one row per cell. Without: skew-corrected normal draws of the joint sums.
    """
    assert metric.rows is not None  # interval_method picks these methods only for row-sum metrics
    if metric.cells is not None:
        codes = np.zeros(len(y_true), dtype=np.int64)
        for output in outputs:
            cell = np.asarray(metric.cells(y_true, output), dtype=np.int64)
            codes = codes * (int(cell.max()) + 1) + cell
        occupied, first, counts = np.unique(codes, return_index=True, return_counts=True)
        stats = np.hstack([np.asarray(metric.rows(y_true[first], output[first]), dtype=np.float64) for output in outputs])
        return CellTable(occupied, counts, stats).resampled_sums(resamples, rng)
    rows = np.hstack([np.asarray(metric.rows(y_true, output), dtype=np.float64) for output in outputs])
    moments = RowMoments.of(rows)
    return skew_corrected(moments.resampled_sums(resamples, rng), moments, rows, value_of)


def _reduced(metric: Metric, sums: np.ndarray, n: int) -> np.ndarray:
    assert metric.reduce is not None
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(metric.reduce(sums, np.full(len(sums), float(n))), dtype=np.float64)


def fast_interval(
    metric: Metric, y_true: np.ndarray, scores: np.ndarray, *, resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """The interval of ``metric`` by its :func:`interval_method` for a large slice (not ``"bootstrap"``).

    Raises:
        ValueError: the metric has no interval from sufficient statistics.
    """
    method = interval_method(metric, len(y_true), exact_max_rows=-1)
    if method == DELONG:
        return delong_value_and_interval(y_true, scores, confidence)[1:]
    if method == BOOTSTRAP:
        raise ValueError(f"metric {metric.name!r}: expected a row-sum or AUC metric for a fast interval, got neither")
    n = len(y_true)
    sums = _resampled_sums(metric, y_true, [scores], resamples, np.random.default_rng(seed),
                           lambda s: _reduced(metric, s, n))
    return percentile_interval(_reduced(metric, sums, n), confidence)


def summary_interval(
    metric: Metric, summary: CellTable | SkewMoments, *, resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    """The value and interval of a row-sum ``metric`` from a slice's summary accumulated chunk by chunk.

    Draws as :func:`fast_interval` does from the same seed: a :class:`CellTable` (of
    ``metric.cells``) gives the same multinomial tables; :class:`SkewMoments` give the same normal
    draws with the skew correction from the third-moment tensor instead of the rows.
    """
    n = summary.n
    rng = np.random.default_rng(seed)
    if isinstance(summary, CellTable):
        sums = summary.resampled_sums(resamples, rng)
    else:
        sums = skew_corrected(summary.moments.resampled_sums(resamples, rng), summary.moments, None,
                              lambda s: _reduced(metric, s, n), third=summary.third)
    return percentile_interval(_reduced(metric, sums, n), confidence)


def summary_value(metric: Metric, summary: CellTable | SkewMoments) -> float:
    """The value of a row-sum ``metric`` from its slice's summary (NaN on an empty one)."""
    if summary.n == 0:
        return float("nan")
    sums = summary.sums() if isinstance(summary, CellTable) else summary.moments.sums()
    return float(_reduced(metric, sums[None, :], summary.n)[0])


def delong_value_and_interval(y_true: np.ndarray, scores: np.ndarray | ScoreColumns,
                              confidence: float) -> tuple[float, float, float]:
    """ROC AUC (from DeLong's placements: the Mann-Whitney value up to rounding) and ``AUC ± z·se``.

    One sort per class and no resample matrices: what a large slice scored in chunks uses for both
    (its kept scores as :class:`~evaluators.intervals.delong.ScoreColumns`, gathered a class at a time).
    """
    value, influence = auc_influence(y_true, scores)
    influence /= len(y_true)  # in place: ``se = sqrt(Σ (φ/n)²)`` without two more rows' worth
    se = float(np.sqrt(np.sum(np.square(influence, out=influence))))
    z = float(norm_ppf(0.5 + confidence / 2))
    return value, _clipped(value - z * se), _clipped(value + z * se)


def _clipped(bound: float) -> float:
    return float(np.clip(bound, 0.0, 1.0)) if np.isfinite(bound) else float("nan")


@dataclass(frozen=True)
class PairedEvidence:
    """The resampling evidence on ``metric(a) - metric(b)`` for a large paired sample.

    Attributes:
        method: ``"bootstrap-cells"``, ``"normal-sums"`` or ``"delong"``.
        draws: Resampled differences ``(B,)`` (cells, normal sums); None for DeLong.
        se: Standard error of the difference (DeLong); NaN otherwise.
    """

    method: str
    draws: np.ndarray | None
    se: float = float("nan")


def paired_evidence(
    metric: Metric, y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, *, resamples: int, seed: int
) -> PairedEvidence:
    """Resampled differences of two models scored on the same rows, without resampling rows.

    Cells pair up as (cell under a, cell under b), i.e. (true, predicted by a,
    predicted by b); moments are those of the joint statistics ``[a, b]``; the
    AUC difference's influence is ``φ_a - φ_b``.

    Raises:
        ValueError: the metric has no interval from sufficient statistics.
    """
    n = len(y_true)
    method = interval_method(metric, n, exact_max_rows=-1)
    if method == DELONG:
        return PairedEvidence(method, None, delong_paired(y_true, scores_a, scores_b)[1])
    if method == BOOTSTRAP:
        raise ValueError(f"metric {metric.name!r}: expected a row-sum or AUC metric for a fast paired test, got neither")
    difference = _pair_difference(metric, n)
    sums = _resampled_sums(metric, y_true, [scores_a, scores_b], resamples, np.random.default_rng(seed), difference)
    return PairedEvidence(method, difference(sums))


def delong_paired(y_true: np.ndarray, scores_a: np.ndarray | ScoreColumns, scores_b: np.ndarray | ScoreColumns) -> tuple[float, float]:
    """``AUC(a) - AUC(b)`` and its DeLong standard error ``sqrt(Σ ((φ_a - φ_b)/n)²)``, each model's scores read a class column at a time."""
    value_a, influence = auc_influence(y_true, scores_a)
    value_b, influence_b = auc_influence(y_true, scores_b)
    influence -= influence_b  # in place: two rows' worth at most
    del influence_b
    influence /= len(y_true)
    return value_a - value_b, float(np.sqrt(np.sum(np.square(influence, out=influence))))


def paired_summary_evidence(metric: Metric, summary: CellTable | SkewMoments, *, resamples: int, seed: int) -> tuple[float, PairedEvidence]:
    """The difference ``metric(a) - metric(b)`` and its resampled draws from a joint summary accumulated chunk by chunk.

    The summary holds both models' statistics side by side (a's, then b's): a :class:`CellTable`
    over the joint cells draws the same multinomial tables as :func:`paired_evidence` from the
    same seed; :class:`SkewMoments` the same normal draws, skew-corrected from the third-moment
    tensor instead of the rows.
    """
    n = summary.n
    difference = _pair_difference(metric, n)
    rng = np.random.default_rng(seed)
    if isinstance(summary, CellTable):
        total, sums = summary.sums(), summary.resampled_sums(resamples, rng)
        method = CELLS
    else:
        total = summary.moments.sums()
        sums = skew_corrected(summary.moments.resampled_sums(resamples, rng), summary.moments, None, difference, third=summary.third)
        method = NORMAL_SUMS
    return float(difference(total[None, :])[0]), PairedEvidence(method, difference(sums))


def _pair_difference(metric: Metric, n: int) -> Callable[[np.ndarray], np.ndarray]:
    """``(B, 2m)`` sums of (a's statistics, b's) -> ``(B,)`` differences ``metric(a) - metric(b)``."""
    def difference(sums: np.ndarray) -> np.ndarray:
        m = sums.shape[1] // 2
        return _reduced(metric, sums[:, :m], n) - _reduced(metric, sums[:, m:], n)

    return difference
