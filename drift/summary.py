"""A mergeable summary of one column, and what the drift checks read from it.

:mod:`drift.scale` builds and merges these per shard; each check in
:mod:`drift.checks` scores two merged summaries through the readers here (exact
value counts, or a piecewise-linear CDF from the fixed-edge histogram), so a
check's summary behaviour lives on the check itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drift.results import ColumnKind
from suite.errors import VigilError

MAX_EXACT_VALUES = 21
"""Numeric columns with at most this many distinct values keep exact counts (Evidently bins above 20)."""


@dataclass
class ColumnSummary:
    """A mergeable summary of one column's non-missing values on one shard (or many, merged)."""

    kind: ColumnKind
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    below_sum: float = 0.0
    above_sum: float = 0.0
    values: dict[object, int] | None = field(default_factory=dict)

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0), as Evidently norms Wasserstein by."""
        return math.sqrt(self.m2 / self.n) if self.n else 0.0


FrameSummary = dict[str, ColumnSummary]


def merge_column(a: ColumnSummary, b: ColumnSummary) -> ColumnSummary:
    """The summary of both summaries' rows (Chan's formula for the variance)."""
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * b.n / n if n else 0.0
    m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n if n else 0.0
    values = None
    if a.values is not None and b.values is not None:
        values = dict(a.values)
        for key, count in b.values.items():
            values[key] = values.get(key, 0) + count
        if a.kind == "numerical" and len(values) > MAX_EXACT_VALUES:
            values = None
    return ColumnSummary(
        kind=a.kind, n=n, mean=mean, m2=m2, low=min(a.low, b.low), high=max(a.high, b.high),
        edges=a.edges, counts=None if a.counts is None else a.counts + b.counts,
        below_sum=a.below_sum + b.below_sum, above_sum=a.above_sum + b.above_sum, values=values,
    )


def n_unique(ref: ColumnSummary, cur: ColumnSummary) -> int:
    """Distinct values over both sides (``MAX_EXACT_VALUES + 1`` when a side kept no counts)."""
    if ref.values is None or cur.values is None:
        return MAX_EXACT_VALUES + 1
    return len(set(ref.values) | set(cur.values))


def aligned_counts(ref: ColumnSummary, cur: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Count vectors of both sides over the union of their values."""
    if ref.values is None or cur.values is None:
        raise VigilError("this drift method needs value counts, but the column has too many distinct values")
    keys = list(set(ref.values) | set(cur.values))
    return (
        np.array([ref.values.get(k, 0) for k in keys], dtype=float),
        np.array([cur.values.get(k, 0) for k in keys], dtype=float),
    )


def step_cdfs(ref: ColumnSummary, cur: ColumnSummary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted values and both exact step CDFs at them (few-valued numeric columns)."""
    if ref.values is None or cur.values is None:
        raise VigilError("this drift method needs value counts, but the column has too many distinct values")
    keys = np.array(sorted(set(ref.values) | set(cur.values)), dtype=float)
    fr = np.cumsum([ref.values.get(k, 0) for k in keys]) / ref.n
    fc = np.cumsum([cur.values.get(k, 0) for k in keys]) / cur.n
    return keys, fr, fc


def cdfs_on_grid(ref: ColumnSummary, cur: ColumnSummary, grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both piecewise-linear CDFs on ``grid`` (default: the union of their knots)."""
    rx, rf = _knots(ref)
    cx, cf = _knots(cur)
    if grid is None:
        grid = np.union1d(rx, cx)
    return grid, _interp_cdf(grid, rx, rf), _interp_cdf(grid, cx, cf)


def cdf_gap(ref: ColumnSummary, cur: ColumnSummary) -> float:
    """The K-S statistic ``D``: exact on few-valued columns, at the histogram knots otherwise."""
    if ref.values is not None and cur.values is not None:
        _, fr, fc = step_cdfs(ref, cur)
    else:
        _, fr, fc = cdfs_on_grid(ref, cur)
    return float(np.max(np.abs(fr - fc)))


def binned_shares(ref: ColumnSummary, cur: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Shares per category, or on Evidently's Sturges bins for many-valued numeric columns."""
    if ref.kind == "categorical" or (ref.values is not None and len(ref.values) <= 20):
        rc, cc = aligned_counts(ref, cur)
        return rc / ref.n, cc / cur.n
    lo, hi = min(ref.low, cur.low), max(ref.high, cur.high)
    k = max(1, math.ceil(math.log2(ref.n + cur.n) + 1.0))
    sturges = np.linspace(lo, hi, k + 1)
    _, fr, fc = cdfs_on_grid(ref, cur, sturges)
    fr[0] = fc[0] = 0.0
    fr[-1] = fc[-1] = 1.0
    return np.diff(fr), np.diff(fc)


def _knots(s: ColumnSummary) -> tuple[np.ndarray, np.ndarray]:
    """Knots and CDF values of the piecewise-linear CDF (tails spread to keep their exact means)."""
    if s.edges is None or s.counts is None:
        raise VigilError("this drift method needs a numeric histogram, but the column was summarised as categorical")
    edges, counts = s.edges, s.counts.astype(float)
    below, above = counts[0], counts[-1]
    lo = edges[0] - 2 * (edges[0] - s.below_sum / below) if below else edges[0]
    hi = edges[-1] + 2 * (s.above_sum / above - edges[-1]) if above else edges[-1]
    xs = np.concatenate([[lo], edges, [hi]])
    cdf = np.concatenate([[0.0], np.cumsum(counts)]) / s.n
    return xs, cdf


def _interp_cdf(grid: np.ndarray, xs: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    # np.interp needs increasing xs; zero-width bins (repeated knots) keep the right-most value.
    keep = np.append(xs[1:] != xs[:-1], True)
    return np.interp(grid, xs[keep], cdf[keep], left=0.0, right=1.0)
