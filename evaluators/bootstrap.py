"""Seeded percentile bootstrap confidence intervals.

A resample draws ``n`` rows with replacement; it is represented by row
multiplicities (``counts[b, i]`` copies of row ``i`` in resample ``b``), which
every :class:`~evaluators.metrics.base.Metric` can score without copying rows.
Resamples are drawn in chunks of a size fixed by ``n`` alone, so the same
inputs, resample count and seed always give the same interval.

Example:
    >>> import numpy as np
    >>> from evaluators.metrics import get_metric
    >>> mae = get_metric("mae", "regression")
    >>> y, pred = np.arange(50.0), np.arange(50.0) + np.linspace(-1, 1, 50)
    >>> low, high = bootstrap_ci(mae, y, pred, resamples=200, confidence=0.95, seed=0)
    >>> bool(low < mae(y, pred) < high)
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np

from evaluators.metrics.base import Metric, Resampled

# Rows × resamples per chunk of counts: bounds memory at a few tens of MB.
_CHUNK_CELLS = 1 << 21


def derive_seed(seed: int, *parts: str) -> int:
    """A 64-bit seed from ``seed`` and names, independent of evaluation order.

    Example:
        >>> derive_seed(0, "all") == derive_seed(0, "all") != derive_seed(0, "label=1")
        True
    """
    key = "\x1f".join([str(seed), *parts]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def resample_counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Row multiplicities of ``resamples`` bootstrap resamples, in float chunks ``(b, n)``.

    Each chunk is the transpose of a C-ordered ``(n, b)`` array, so a scorer
    that gathers rows (``counts.T[rows]``) reads contiguous memory.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        drawn = rng.integers(0, n, size=(b, n)) * b + np.arange(b)[:, None]
        yield np.bincount(drawn.ravel(), minlength=n * b).reshape(n, b).astype(np.float64).T


def percentile_cis(
    scorers: Sequence[Resampled], n: int, *, resamples: int, confidence: float, seed: int
) -> list[tuple[float, float]]:
    """Percentile intervals for several scorers of the same ``n`` rows, on shared resamples.

    Resamples where a metric is undefined (NaN, e.g. AUC on a resample that
    lacks a class) are left out of that metric's interval; with none left the
    interval is ``(nan, nan)``.
    """
    if n == 0 or not scorers:
        return [(np.nan, np.nan)] * len(scorers)
    chunks: list[list[np.ndarray]] = [[] for _ in scorers]
    for counts in resample_counts(n, resamples, seed):
        for values, scorer in zip(chunks, scorers):
            values.append(scorer(counts))
    tail = (1.0 - confidence) / 2.0
    intervals = []
    for values in chunks:
        finite = np.concatenate(values)
        finite = finite[~np.isnan(finite)]
        if finite.size == 0:
            intervals.append((np.nan, np.nan))
            continue
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        intervals.append((float(low), float(high)))
    return intervals


def bootstrap_ci(
    metric: Metric,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """The percentile bootstrap interval of ``metric`` on these predictions.

    Args:
        metric: The metric to resample.
        y_true: True labels or values, ``(n,)``.
        scores: Probabilities ``(n, k)`` or predicted values ``(n,)``.
        resamples: Number of bootstrap resamples.
        confidence: Coverage of the interval, e.g. 0.95.
        seed: Seed of the resampling; the same seed gives the same interval.

    Returns:
        ``(low, high)``; ``(nan, nan)`` with no rows or no resample where the
        metric is defined.
    """
    scorer = metric.resampled(np.asarray(y_true), np.asarray(scores))
    return percentile_cis([scorer], len(y_true), resamples=resamples, confidence=confidence, seed=seed)[0]
