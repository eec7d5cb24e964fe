"""Score predictions: every requested metric on every slice, with a CI, its method and n.

Each slice draws its resamples from a seed derived from the suite seed and the
slice name, shared by all metrics of that slice: a result does not depend on
the order of slices or metrics, nor on which other metrics are requested. On a
slice of at most :data:`~evaluators.intervals.EXACT_MAX_ROWS` rows the interval
is the exact row bootstrap, and :func:`~evaluators.bootstrap.bootstrap_ci` with
``derive_seed(seed, slice)`` reproduces it; a larger slice gets the interval
:func:`~evaluators.intervals.interval_method` names, from the same seed.

:class:`evaluators.chunked.ChunkedScorer` gives the same results from predictions that arrive
in chunks, without holding whole arrays (``vigil run`` streams through it).
"""

from __future__ import annotations

from collections.abc import Sequence

from dataclasses import dataclass

import numpy as np

from evaluators.bootstrap import derive_seed, percentile_cis
from evaluators.intervals import BOOTSTRAP, EXACT_MAX_ROWS, fast_interval, interval_method
from evaluators.metrics import get_metric
from evaluators.metrics.base import Metric
from suite.errors import DataError
from suite.spec import BootstrapSpec


@dataclass(frozen=True)
class MetricResult:
    """One metric on one slice: the value, its interval, the row count and how the interval was made.

    ``ci_method`` is ``"bootstrap"`` (exact row bootstrap) or one of the
    methods of :mod:`evaluators.intervals` used above its row threshold.
    """

    slice: str
    metric: str
    metric_version: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    ci_method: str = BOOTSTRAP


def score_predictions(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    task: str,
    metric_names: list[str],
    masks: dict[str, np.ndarray],
    bootstrap: BootstrapSpec,
    seed: int,
    extra_metrics: Sequence[Metric] = (),
    exact_max_rows: int = EXACT_MAX_ROWS,
) -> list[MetricResult]:
    """Results for each slice in ``masks`` order and each metric in ``metric_names`` order.

    A metric undefined on a slice (e.g. AUC where one class is present) gets
    NaN value and interval; an empty slice gets NaN and ``n=0``.

    ``extra_metrics`` are scored after the named ones (e.g. a suite's cost
    metric). Slices of more than ``exact_max_rows`` rows get intervals from
    sufficient statistics (:mod:`evaluators.intervals`); a test may raise the
    threshold to force the exact row bootstrap.

    Raises:
        VigilError: an unknown metric or one for the other task.
        DataError: predictions or masks of the wrong shape or labels out of range.
    """
    metrics = [get_metric(name, task) for name in metric_names] + list(extra_metrics)
    y_true, scores = checked_predictions(np.asarray(y_true), np.asarray(scores), task)
    results: list[MetricResult] = []
    for slice_name, mask in masks.items():
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != y_true.shape:
            raise DataError(
                f"slice {slice_name!r}: expected a boolean mask of shape {y_true.shape}, "
                f"got {mask.dtype} of shape {mask.shape}"
            )
        ys, ss = y_true[mask], scores[mask]
        values = [metric(ys, ss) if len(ys) else np.nan for metric in metrics]
        methods = [interval_method(metric, len(ys), exact_max_rows) for metric in metrics]
        defined = [i for i, v in enumerate(values) if not np.isnan(v)]
        exact = [i for i in defined if methods[i] == BOOTSTRAP]
        slice_seed = derive_seed(seed, slice_name)
        intervals = dict(
            zip(
                exact,
                percentile_cis(
                    [metrics[i].resampled(ys, ss) for i in exact],
                    len(ys),
                    resamples=bootstrap.resamples,
                    confidence=bootstrap.confidence,
                    seed=slice_seed,
                ),
            )
        )
        for i in defined:
            if methods[i] != BOOTSTRAP:
                intervals[i] = fast_interval(metrics[i], ys, ss, resamples=bootstrap.resamples,
                                             confidence=bootstrap.confidence, seed=slice_seed)
        for i, (metric, value) in enumerate(zip(metrics, values)):
            low, high = intervals.get(i, (np.nan, np.nan))
            results.append(MetricResult(slice_name, metric.name, metric.version, value, low, high, len(ys), methods[i]))
    return results


def checked_predictions(y_true: np.ndarray, scores: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, scores)`` checked for ``task``: labels in range, shapes (regression as float64).

    Raises:
        DataError: shapes, dtypes or labels other than expected.
    """
    if y_true.ndim != 1 or len(scores) != len(y_true):
        raise DataError(
            f"predictions: expected y_true of shape (n,) and scores with n rows, "
            f"got {y_true.shape} and {scores.shape}"
        )
    if task == "regression":
        if scores.ndim != 1:
            raise DataError(f"predictions: expected regression outputs of shape (n,), got {scores.shape}")
        return y_true.astype(np.float64), scores.astype(np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise DataError(f"predictions: expected class probabilities of shape (n, k>=2), got {scores.shape}")
    if y_true.size and (y_true.dtype.kind not in "iu" or y_true.min() < 0 or y_true.max() >= scores.shape[1]):
        raise DataError(
            f"predictions: expected integer labels in 0..{scores.shape[1] - 1}, "
            f"got {y_true.dtype} in [{y_true.min()}, {y_true.max()}]"
        )
    return y_true, scores
