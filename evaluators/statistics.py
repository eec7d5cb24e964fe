"""Paired comparisons of two models on the same examples, and multiple-testing correction.

Everything here compares a candidate ``a`` with a baseline ``b`` scored on the
SAME examples, so each resample draws one set of example indices and applies
it to both models: the pairing removes the example-to-example variance the two
models share, which makes the comparison far sharper than two separate CIs.

Example:
    >>> import numpy as np
    >>> holm([0.01, 0.04, 0.03])
    array([0.03, 0.06, 0.06])
    >>> mcnemar_exact(np.array([1, 1, 0, 1], bool), np.array([0, 1, 1, 0], bool)).b
    2
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from evaluators.intervals import BOOTSTRAP, DELONG, EXACT_MAX_ROWS, CellTable, delong_paired, interval_method, paired_evidence, paired_summary_evidence
from evaluators.intervals.delong import ScoreColumns
from evaluators.intervals.moments import SkewMoments
from evaluators.metrics.base import Metric
from evaluators.normal import norm_cdf, norm_ppf, norm_sf

MetricFn = Callable[[np.ndarray, np.ndarray], float]
"""A metric over (y_true, scores): returns one float."""


@dataclass(frozen=True)
class PairedDiff:
    """The difference ``metric(a) - metric(b)`` with its paired-bootstrap evidence.

    Attributes:
        diff: The point difference on the full sample.
        ci_low: Lower percentile bound of the bootstrap distribution of the difference.
        ci_high: Upper percentile bound.
        p_value: Two-sided bootstrap p-value for "no difference".
        n: Number of paired examples.
        p_less: One-sided p-value for the alternative ``diff < 0``.
        p_greater: One-sided p-value for the alternative ``diff > 0``.
        se: Standard deviation of the bootstrap differences (the standard error).
        method: ``"bootstrap"`` (resampled rows) or the method of
            :mod:`evaluators.intervals` used for a large sample.
    """

    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    p_less: float = float("nan")
    p_greater: float = float("nan")
    se: float = float("nan")
    method: str = BOOTSTRAP


@dataclass(frozen=True)
class McNemar:
    """An exact McNemar test on paired correctness.

    Attributes:
        b: Examples ``a`` gets right and ``b`` gets wrong.
        c: Examples ``a`` gets wrong and ``b`` gets right.
        p_value: Two-sided exact binomial p-value (``min(1, 2·P[X ≤ min(b, c)])``, X ~ Bin(b+c, ½)).
        p_a_worse: One-sided exact p-value for "a is wrong more often than b" (``P[X ≥ c]``).
    """

    b: int
    c: int
    p_value: float
    p_a_worse: float


def paired_bootstrap_diff(
    metric_fn: MetricFn,
    y_true: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    exact_max_rows: int = EXACT_MAX_ROWS,
) -> PairedDiff:
    """Bootstrap the difference of one metric between two models on shared examples.

    Each resample draws ``n`` example indices with replacement and scores both
    models on exactly those examples. The CI is the percentile interval of the
    resampled differences. p-values come from the bootstrap distribution shifted
    to the null (``d* - d``): two-sided ``(1 + #{|d* - d| ≥ |d|}) / (B + 1)``,
    and one-sided analogues. Resamples whose metric is undefined (NaN, e.g. a
    single class drawn for ROC AUC) are dropped.

    That loop costs ``B`` full metric evaluations. When ``metric_fn`` is a
    :class:`~evaluators.metrics.base.Metric` with an interval from sufficient
    statistics and there are more than ``exact_max_rows`` examples, the
    differences come from :func:`~evaluators.intervals.paired_evidence`
    instead: cell tables over (true, predicted by a, predicted by b) resampled
    exactly, normal draws of the joint row sums, or, for ROC AUC, DeLong's
    standard error with normal p-values (``z = diff / se``).

    Args:
        metric_fn: Metric over ``(y_true, scores)``; a ``Metric`` enables the large-sample path.
        y_true: Labels or targets, shape ``(n,)``.
        scores_a: Model a's output, first axis ``n``.
        scores_b: Model b's output, first axis ``n``.
        resamples: Number of bootstrap resamples.
        confidence: Two-sided confidence level of the interval.
        seed: Seed of the resampling generator; the same seed gives the same result.
        exact_max_rows: Above this many examples a ``Metric`` with sufficient statistics
            takes the large-sample path; a test may raise it to force the loop.

    Returns:
        The point difference ``metric(a) - metric(b)`` and its evidence.
    """
    y_true, scores_a, scores_b = np.asarray(y_true), np.asarray(scores_a), np.asarray(scores_b)
    n = len(y_true)
    if len(scores_a) != n or len(scores_b) != n:
        raise ValueError(f"paired arrays need equal length, got {n}, {len(scores_a)}, {len(scores_b)}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"expected resamples ≥ 1 and 0 < confidence < 1, got {resamples}, {confidence}")
    diff = float(metric_fn(y_true, scores_a) - metric_fn(y_true, scores_b))
    if n == 0:
        nan = float("nan")
        return PairedDiff(nan, nan, nan, nan, 0, nan, nan, nan)
    method = interval_method(metric_fn, n, exact_max_rows) if isinstance(metric_fn, Metric) else BOOTSTRAP
    if method != BOOTSTRAP:
        assert isinstance(metric_fn, Metric)  # interval_method names a method only for a Metric
        evidence = paired_evidence(metric_fn, y_true, scores_a, scores_b, resamples=resamples, seed=seed)
        if evidence.draws is None:
            return _normal_diff(diff, evidence.se, n, confidence, method)
        return _from_draws(diff, evidence.draws, n, confidence, method)
    rng = np.random.default_rng(seed)
    boot = np.empty(resamples)
    for i in range(resamples):
        idx = rng.integers(0, n, n)
        boot[i] = metric_fn(y_true[idx], scores_a[idx]) - metric_fn(y_true[idx], scores_b[idx])
    return _from_draws(diff, boot, n, confidence, BOOTSTRAP)


def paired_diff_from_summary(metric: Metric, summary: CellTable | SkewMoments, *, resamples: int, confidence: float, seed: int) -> PairedDiff:
    """:func:`paired_bootstrap_diff`'s large-sample result from a joint summary of both models' statistics
    (:func:`~evaluators.intervals.paired_summary_evidence`), accumulated chunk by chunk."""
    diff, evidence = paired_summary_evidence(metric, summary, resamples=resamples, seed=seed)
    assert evidence.draws is not None  # summaries always give draws
    return _from_draws(diff, evidence.draws, summary.n, confidence, evidence.method)


def delong_paired_diff(y_true: np.ndarray, scores_a: np.ndarray | ScoreColumns, scores_b: np.ndarray | ScoreColumns, *,
                       confidence: float) -> PairedDiff:
    """:func:`paired_bootstrap_diff`'s large-sample result for ROC AUC, each model's scores read a class column at a time
    (:class:`~evaluators.intervals.delong.ScoreColumns`): the DeLong standard error of ``φ_a - φ_b``, normal p-values."""
    diff, se = delong_paired(y_true, scores_a, scores_b)
    return _normal_diff(diff, se, len(y_true), confidence, DELONG)


def _from_draws(diff: float, boot: np.ndarray, n: int, confidence: float, method: str) -> PairedDiff:
    """Percentile CI and null-shifted p-values from resampled differences."""
    boot = boot[np.isfinite(boot)]
    if boot.size == 0 or not np.isfinite(diff):
        nan = float("nan")
        return PairedDiff(diff, nan, nan, nan, n, nan, nan, nan, method)
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    null = boot - diff
    count = boot.size
    p_two = (1 + np.sum(np.abs(null) >= abs(diff))) / (count + 1)
    p_less = (1 + np.sum(null <= diff)) / (count + 1)
    p_greater = (1 + np.sum(null >= diff)) / (count + 1)
    return PairedDiff(
        diff=diff,
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(min(1.0, p_two)),
        n=n,
        p_less=float(min(1.0, p_less)),
        p_greater=float(min(1.0, p_greater)),
        se=float(np.std(boot, ddof=1)) if count > 1 else float("nan"),
        method=method,
    )


def _normal_diff(diff: float, se: float, n: int, confidence: float, method: str) -> PairedDiff:
    """CI ``diff ± z·se`` and normal p-values from ``z = diff / se``."""
    nan = float("nan")
    if not (np.isfinite(diff) and np.isfinite(se)):
        return PairedDiff(diff, nan, nan, nan, n, nan, nan, nan, method)
    half = float(norm_ppf(0.5 + confidence / 2)) * se
    if se > 0:
        z = diff / se
        p_two, p_less, p_greater = 2 * norm_sf(abs(z)), norm_cdf(z), norm_sf(z)
    else:  # identical influences: no sampling variation in the difference
        p_two = 1.0 if diff == 0 else 0.0
        p_less, p_greater = float(diff >= 0), float(diff <= 0)
    return PairedDiff(diff, diff - half, diff + half, float(min(1.0, p_two)), n,
                      float(p_less), float(p_greater), se, method)


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """Exact McNemar test of two models' paired correctness.

    Only discordant pairs carry information: under the null each is equally
    likely to favour either model, so the count ``c`` (a wrong, b right) is
    Binomial(b + c, ½). The two-sided p-value doubles the smaller tail, capped at
    1. The mid-p variant is deliberately not used: the plain exact test never
    exceeds its nominal size, which suits a gate that blocks releases.

    Args:
        correct_a: Boolean per example, model a right.
        correct_b: Boolean per example, model b right.

    Returns:
        Discordant counts and the two-sided and one-sided (a worse) p-values.
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError(f"paired arrays need equal shape, got {correct_a.shape} and {correct_b.shape}")
    return mcnemar_counts(int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b)))


def mcnemar_counts(b: int, c: int) -> McNemar:
    """:func:`mcnemar_exact` from its discordant counts: ``b`` (a right, b wrong) and ``c`` (a wrong, b right)."""
    from scipy.stats import binom  # here: scipy.stats costs every start ~0.5 s of CPU, and only a suite with a baseline tests this

    m = b + c
    if m == 0:
        return McNemar(b, c, 1.0, 1.0)
    p_two = min(1.0, 2.0 * float(binom.cdf(min(b, c), m, 0.5)))
    p_worse = float(binom.sf(c - 1, m, 0.5))
    return McNemar(b, c, p_two, p_worse)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values, in the input order.

    The i-th smallest of m p-values is multiplied by ``m - i + 1``; a running
    maximum keeps the adjusted values monotone in the raw ones, and they are
    capped at 1. Rejecting where ``adjusted < alpha`` controls the family-wise
    error rate at ``alpha``. NaNs are left out of the family and stay NaN.

    Args:
        p_values: Raw p-values.

    Returns:
        Adjusted p-values, same order and length.
    """
    p, out, order = _ranked(p_values)
    m = order.size
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate), in the input order.

    The i-th smallest of m p-values is multiplied by ``m / i``; a running minimum
    from the largest down keeps them monotone, and they are capped at 1. NaNs are
    left out of the family and stay NaN, as in :func:`holm`.

    Example:
        >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.04, 0.04]
    """
    p, out, order = _ranked(p_values)
    m = order.size
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


def _ranked(p_values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The p-values as floats, an all-NaN output of their shape, and the finite ones' positions from smallest up."""
    p = np.asarray(p_values, dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    return p, np.full(p.shape, np.nan), ok[np.argsort(p[ok], kind="stable")]
