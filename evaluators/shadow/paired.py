"""Paired comparisons of two models scored on the same rows.

Kept local to shadow evaluation: a paired bootstrap of a difference in means,
McNemar's exact test and a Wilson interval for a rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from evaluators.intervals import EXACT_MAX_ROWS


@dataclass(frozen=True)
class PairedDiff:
    """Mean of ``a - b`` over paired rows, with a percentile bootstrap interval."""

    diff: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``b`` rows only model A got right, ``c`` only model B; two-sided p-value."""

    b: int
    c: int
    p_value: float


def paired_bootstrap_diff(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0, correctness: bool = False
) -> PairedDiff:
    """Bootstrap the mean difference ``mean(a) - mean(b)`` resampling rows (pairs kept together).

    Past :data:`~evaluators.intervals.EXACT_MAX_ROWS` pairs the rows are not resampled one by one: paired
    correctness (``correctness=True``: 0/1 arrays) resamples the counts of the three differences, which is the
    same distribution; other values get the normal interval of a mean (method ``normal``, see :func:`ci_method`).

    Example:
        >>> r = paired_bootstrap_diff(np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0]))
        >>> r.diff, r.n
        (0.5, 4)
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"expected paired arrays, got shapes {a.shape} and {b.shape}")
    n = len(a)
    if n == 0:
        return PairedDiff(float("nan"), float("nan"), float("nan"), 0)
    delta = a - b
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    if n > EXACT_MAX_ROWS and correctness:
        # Right/wrong pairs differ by -1, 0 or 1: a resample is a multinomial draw of those three counts,
        # the row bootstrap's own distribution, at a cost independent of n.
        values, counts = np.unique(delta, return_counts=True)
        means = rng.multinomial(n, counts / n, size=resamples) @ values / n
    elif n > EXACT_MAX_ROWS:
        # Many distinct values and n past the threshold: the mean is normal to well within the resampling noise.
        half = float(stats.norm.ppf(1 - tail)) * float(delta.std(ddof=1)) / np.sqrt(n)
        return PairedDiff(float(delta.mean()), float(delta.mean() - half), float(delta.mean() + half), n)
    else:
        means = np.empty(resamples)
        for start in range(0, resamples, 256):  # chunks keep memory at 256 × n
            stop = min(start + 256, resamples)
            means[start:stop] = delta[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedDiff(float(delta.mean()), float(low), float(high), n)


def ci_method(n: int, correctness: bool) -> str:
    """What :func:`paired_bootstrap_diff` made the interval of ``n`` pairs with: ``paired-bootstrap`` or ``normal``."""
    return "normal" if n > EXACT_MAX_ROWS and not correctness else "paired-bootstrap"


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """Exact (binomial) McNemar test on the discordant pairs.

    Example:
        >>> mcnemar_exact(np.array([1, 1, 1, 0, 1]), np.array([0, 0, 0, 0, 1]))
        McNemar(b=3, c=0, p_value=0.25)
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    m = only_a + only_b
    p = 1.0 if m == 0 else min(1.0, 2.0 * float(stats.binom.cdf(min(only_a, only_b), m, 0.5)))
    return McNemar(only_a, only_b, p)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (NaNs when ``n == 0``)."""
    if n == 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
