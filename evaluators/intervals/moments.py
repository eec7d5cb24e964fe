"""Mean and covariance of per-row statistics, and the normal law of their resampled sums.

A metric built from sums of continuous per-row statistics (log loss, MAE,
RMSE, R², ECE) needs, for its interval on a large slice, only the first two
moments of those statistics: by the central limit theorem the bootstrap sums
are close to normal with the rows' mean and covariance, the departure (the
mean's skewness) shrinking as ``1/sqrt(n)``. Moments merge exactly across
chunks (Chan et al.'s pairwise update), so a slice can be summarised chunk by
chunk.

Example:
    >>> import numpy as np
    >>> x = np.arange(10.0)[:, None]
    >>> whole = RowMoments.of(x)
    >>> halves = RowMoments.of(x[:4]).merge(RowMoments.of(x[4:]))
    >>> bool(np.allclose(whole.covariance(), halves.covariance())), float(whole.mean[0])
    (True, 4.5)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RowMoments:
    """Count, mean and centred co-moment sum of ``m`` per-row statistics.

    Attributes:
        n: Rows summarised.
        mean: Mean statistics ``(m,)``.
        comoment: ``sum_r (x_r - mean)(x_r - mean)ᵀ`` ``(m, m)``.
    """

    n: int
    mean: np.ndarray
    comoment: np.ndarray

    @classmethod
    def of(cls, stats: np.ndarray) -> RowMoments:
        """The moments of ``stats`` ``(n, m)``; centring first keeps the co-moments free of cancellation."""
        stats = np.asarray(stats, dtype=np.float64)
        mean = stats.mean(axis=0) if len(stats) else np.zeros(stats.shape[1])
        centred = stats - mean
        return cls(len(stats), mean, centred.T @ centred)

    def add(self, stats: np.ndarray) -> RowMoments:
        """These moments with a chunk of rows added."""
        return self.merge(RowMoments.of(stats))

    def merge(self, other: RowMoments) -> RowMoments:
        """The moments of both sets of rows."""
        n = self.n + other.n
        if n == 0:
            return self
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        comoment = self.comoment + other.comoment + np.outer(delta, delta) * (self.n * other.n / n)
        return RowMoments(n, mean, comoment)

    def covariance(self) -> np.ndarray:
        """Covariance of one row's statistics under the empirical distribution (divisor ``n``, as the bootstrap)."""
        return self.comoment / max(self.n, 1)

    def sums(self) -> np.ndarray:
        """Summed statistics of all rows ``(m,)``."""
        return self.mean * self.n

    def resampled_sums(self, resamples: int, rng: np.random.Generator) -> np.ndarray:
        """``(B, m)`` draws of the resampled sums from their normal approximation ``N(n·mean, n·Σ)``.

        The covariance may be singular (a statistic constant over the slice, an
        empty ECE bin); its eigen-decomposition gives a square root all the same.
        """
        eigenvalues, vectors = np.linalg.eigh(self.covariance())
        root = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        normal = rng.standard_normal((resamples, len(self.mean)))
        return self.n * self.mean + np.sqrt(self.n) * normal @ root.T


#: Above this many statistics per row a slice summarised in chunks keeps no third-moment tensor
#: (``m³`` floats) and its draws get no skew correction; the metrics here have at most 15 (ECE).
MAX_THIRD_MOMENT_STATS = 30


@dataclass(frozen=True)
class SkewMoments:
    """:class:`RowMoments` plus the centred third co-moment tensor, for the skew correction of chunked slices.

    The correction needs ``Σψ³`` along the metric's gradient, which is known only once all rows
    are in; the tensor ``T = Σ_r (x_r - mean)^⊗3`` gives it for any gradient (``T[g, g, g]``) and
    merges exactly across chunks (Pébay's pairwise update), at ``m³`` floats (27 KB for ECE's 15).

    Attributes:
        moments: Count, mean and co-moments.
        third: ``(m, m, m)`` centred third co-moments; None above :data:`MAX_THIRD_MOMENT_STATS`.
    """

    moments: RowMoments
    third: np.ndarray | None

    @classmethod
    def of(cls, stats: np.ndarray) -> SkewMoments:
        """The moments of ``stats`` ``(n, m)``; the tensor from the rows' nonzeros when they are few (:func:`third_comoment`)."""
        stats = np.asarray(stats, dtype=np.float64)
        moments = RowMoments.of(stats)
        if stats.shape[1] > MAX_THIRD_MOMENT_STATS:
            return cls(moments, None)
        return cls(moments, third_comoment(stats, moments))

    @property
    def n(self) -> int:
        """Rows summarised."""
        return self.moments.n

    def add(self, stats: np.ndarray) -> SkewMoments:
        """These moments with a chunk of rows added."""
        return self.merge(SkewMoments.of(stats))

    def merge(self, other: SkewMoments) -> SkewMoments:
        """The moments of both sets of rows."""
        a, b = self.moments, other.moments
        n = a.n + b.n
        if b.n == 0:
            return self
        if a.n == 0:
            return other
        third = None
        if self.third is not None and other.third is not None:
            delta = b.mean - a.mean
            cross = (a.n * b.comoment - b.n * a.comoment) / n
            third = (self.third + other.third
                     + np.einsum("i,j,k->ijk", delta, delta, delta) * (a.n * b.n * (a.n - b.n) / n**2)
                     + np.einsum("ij,k->ijk", cross, delta) + np.einsum("ik,j->ijk", cross, delta)
                     + np.einsum("jk,i->ijk", cross, delta))
        return SkewMoments(a.merge(b), third)


#: Rows of at most ``d`` nonzeros take the sparse path of :func:`third_comoment` when ``SPARSE_GAIN · d³ ≤ m³``:
#: measured, a dense multiply-add costs ~0.08 ns in BLAS, a sparse row ~65 ns (finding its nonzeros
#: included) plus a few ns per nonzero triple; at ECE's ``m = 15, d = 1`` the sparse path is 4× faster.
SPARSE_GAIN = 64
#: ... and when no statistic's mean exceeds this many of its standard deviations, which bounds the
#: cancellation of converting raw moments to central ones (a relative error of ~eps·(1 + ratio)³).
SPARSE_MAX_MEAN_TO_SD = 10.0


def third_comoment(stats: np.ndarray, moments: RowMoments) -> np.ndarray:
    """``Σ_r (x_r - mean)^⊗3`` ``(m, m, m)`` of float64 ``stats`` ``(n, m)`` with ``moments`` their :class:`RowMoments`.

    Dense rows cost ``n·m³`` multiply-adds (blocks of centred rows, one BLAS product each).
    Rows with at most ``d`` nonzeros, ``SPARSE_GAIN·d³ ≤ m³`` (ECE's: one of 15), cost ``n·d³``:
    the raw sums ``S2 = Σ x⊗x`` and ``S3 = Σ x⊗x⊗x`` are bincounts over each row's nonzero
    pairs and triples, and ``T = S3 - (μ⊗S2 + its two other orders) + 2n·μ⊗μ⊗μ``: equal to
    the dense tensor up to float rounding. 200k ECE rows on the 2-core dev machine: 53 ms
    dense, 13 ms sparse, most of it finding the nonzeros.

    Example:
        >>> x = np.zeros((6, 16)); x[np.arange(6), [0, 0, 3, 5, 5, 5]] = [1.0, -2.0, 0.5, 2.0, 1.0, 4.0]
        >>> centred = x - x.mean(axis=0)
        >>> dense = np.einsum("ri,rj,rk->ijk", centred, centred, centred)
        >>> bool(np.allclose(third_comoment(x, RowMoments.of(x)), dense, rtol=0, atol=1e-12))
        True
    """
    n, m = stats.shape
    mean = moments.mean
    spread = np.sqrt(np.diag(moments.comoment) / max(n, 1))
    nonzeros = int(np.count_nonzero(stats))
    if (SPARSE_GAIN * nonzeros**3 > (m * n) ** 3  # too many per row on average: no scan for them
            or np.any(np.abs(mean) > SPARSE_MAX_MEAN_TO_SD * spread)):
        return _dense_third(stats, mean)
    rows, columns = np.divmod(np.flatnonzero(stats), m)  # row-major: each row's nonzeros together, in column order
    per_row = np.bincount(rows, minlength=n)
    d = int(per_row.max()) if n else 0
    if SPARSE_GAIN * d**3 > m**3:
        return _dense_third(stats, mean)
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    index, value = np.zeros((n, d), dtype=np.int64), np.zeros((n, d))  # padded with 0 at column 0: adds nothing
    index[rows, rank], value[rows, rank] = columns, stats[rows, columns]
    del rows, columns, rank
    raw2, raw3 = np.zeros(m * m), np.zeros(m * m * m)
    block = max(1, (1 << 20) // max(d**3, 1))
    for start in range(0, n, block):
        i, v = index[start:start + block], value[start:start + block]
        pair = (i[:, :, None] * m + i[:, None, :]).ravel()
        raw2 += np.bincount(pair, (v[:, :, None] * v[:, None, :]).ravel(), minlength=m * m)
        triple = (pair.reshape(len(i), d * d)[:, :, None] * m + i[:, None, :]).ravel()
        raw3 += np.bincount(triple, (v[:, :, None, None] * v[:, None, :, None] * v[:, None, None, :]).ravel(),
                            minlength=m**3)
    s2, s3 = raw2.reshape(m, m), raw3.reshape(m, m, m)
    return (s3 - np.einsum("i,jk->ijk", mean, s2) - np.einsum("j,ik->ijk", mean, s2) - np.einsum("k,ij->ijk", mean, s2)
            + 2 * n * np.einsum("i,j,k->ijk", mean, mean, mean))


def _dense_third(stats: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The tensor of :func:`third_comoment` from centred rows, in blocks of rows to bound memory."""
    m = stats.shape[1]
    third = np.zeros((m * m, m))
    block = max(1, (1 << 20) // (m * m))
    for start in range(0, len(stats), block):
        centred = stats[start:start + block] - mean
        third += (centred[:, :, None] * centred[:, None, :]).reshape(len(centred), m * m).T @ centred
    return third.reshape(m, m, m)


def skew_corrected(
    draws: np.ndarray, moments: RowMoments, rows: np.ndarray | None, value_of: Callable[[np.ndarray], np.ndarray],
    third: np.ndarray | None = None,
) -> np.ndarray:
    """Normal draws of the sums, reshaped along the metric's gradient to the skewness of the resampled mean.

    The bootstrap distribution of a mean is skewed by ``γ/sqrt(n)`` (``γ`` the
    rows' skewness): small at a million rows, but a few rows with a huge loss
    (log loss near 30) leave a visible skew at tens of thousands. Along the
    gradient ``g`` of the metric at the full sums, the projection ``w`` of each
    draw (standard normal) becomes ``w + κ/6·(w² - 1)`` with ``κ = Σψ³ / (Σψ²)^1.5``,
    ``ψ_r = (x_r - mean)·g`` (Cornish-Fisher's first term); the components
    independent of ``w`` are kept. Only the linear projection gets the third
    moment; that is the term of order ``1/sqrt(n)``.

    Args:
        draws: ``(B, m)`` draws from :meth:`RowMoments.resampled_sums`.
        moments: The rows' moments.
        rows: The rows' statistics ``(n, m)`` (for their third moment along ``g``), or None with ``third``.
        value_of: ``(B, m)`` sums -> ``(B,)`` metric values (or differences).
        third: Without ``rows``, their centred third co-moment tensor (:class:`SkewMoments`);
            with neither the draws come back uncorrected.
    """
    total = moments.sums()
    step = 1e-6 * np.maximum(np.abs(total), 1.0)
    probes = np.vstack([total + np.diag(step), total - np.diag(step)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ends = np.asarray(value_of(probes), dtype=np.float64)
    gradient = (ends[: len(total)] - ends[len(total):]) / (2 * step)
    if not np.all(np.isfinite(gradient)):
        return draws
    along = moments.covariance() @ gradient
    variance = float(gradient @ along)
    if variance <= 0:
        return draws
    if rows is not None:
        psi = (rows - moments.mean) @ gradient
        psi2, psi3 = np.sum(psi**2), np.sum(psi**3)
    elif third is not None:
        psi2 = gradient @ moments.comoment @ gradient
        psi3 = np.einsum("ijk,i,j,k->", third, gradient, gradient, gradient)
    else:
        return draws
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = float(psi3 / psi2**1.5)
    if not np.isfinite(kappa):  # e.g. a difference of identical models: nothing varies along g
        return draws
    scale = np.sqrt(moments.n * variance)
    w = (draws - total) @ gradient / scale
    shift = kappa / 6.0 * (w**2 - 1.0) * scale
    return draws + np.outer(shift, along / variance)
