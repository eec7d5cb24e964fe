"""Multivariate drift: maximum mean discrepancy (MMD) of the numeric columns, with a permutation p-value.

A shift of the *joint* distribution can leave every column's marginal unchanged —
two features whose correlation flips sign while each stays N(0, 1) — and no
per-column test sees it. This check compares the rows as points: columns are
standardised by the reference mean and std, a Gaussian kernel with the median
pairwise squared distance as bandwidth (the usual median heuristic) gives the
biased MMD² statistic, and its p-value comes from ``PERMUTATIONS`` seeded
relabellings of the pooled rows (all computed as one matrix product, so 200
permutations cost about one kernel pass). The p-value is exact for any
distribution, so its false-alarm rate is the significance level.

Cost is quadratic in rows, so each side is subsampled (seeded) to at most
``MAX_ROWS`` rows; ``sampled`` and ``sample_size`` say so in the result. The cap
also bounds the sensitivity on huge windows, so the effect floor is 0.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> a = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], 500)
    >>> b = rng.multivariate_normal([0, 0], [[1, -0.8], [-0.8, 1]], 500)
    >>> r = MMD(pd.DataFrame(a, columns=["x", "y"]), pd.DataFrame(b, columns=["x", "y"]))
    >>> r.column, r.method, r.drifted
    ('<joint>', 'mmd', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from drift.results import DriftResult

JOINT = "<joint>"
"""The column name of a multivariate result."""


@dataclass(frozen=True)
class JointCheck:
    """A drift check over whole rows of numeric columns rather than one column.

    Attributes:
        name: Registry name, stored in ``DriftResult.method``.
        max_rows: Rows per side kept (seeded subsample) before the quadratic kernel.
        permutations: Relabellings for the p-value (the smallest possible p is 1 / (permutations + 1)).
        seed: Seed of the subsample and the permutations.
        default_threshold: Significance level when none is given.
        version: Bumped whenever the statistic's definition changes.
    """

    name: str
    max_rows: int = 1000
    permutations: int = 200
    seed: int = 0
    default_threshold: float = 0.05
    score_kind: str = "p_value"
    effect_name: str = "mmd2"
    version: str = "1"

    def __call__(self, reference: pd.DataFrame, current: pd.DataFrame, threshold: float | None = None) -> DriftResult:
        """Compare the numeric columns of ``current`` with ``reference`` as joint distributions."""
        rng = np.random.default_rng(self.seed)
        # Columns with no finite value on a side cannot be compared; then rows with a gap are dropped.
        numeric = [c for c in reference.select_dtypes("number").select_dtypes(exclude="bool").columns
                   if c in current.columns and _finite(reference[c]) and _finite(current[c])]
        ref, cur = _numeric_rows(reference[numeric]), _numeric_rows(current[numeric])
        sampled = len(ref) > self.max_rows or len(cur) > self.max_rows
        ref_s, cur_s = _subsample(ref, self.max_rows, rng), _subsample(cur, self.max_rows, rng)
        p_value, mmd2 = (1.0, 0.0) if min(len(ref_s), len(cur_s)) < 2 or ref.shape[1] == 0 else _mmd_test(
            ref_s, cur_s, self.permutations, rng)
        return DriftResult.judge(
            column=JOINT, score=p_value, score_kind="p_value",
            threshold=self.default_threshold if threshold is None else threshold,
            method=self.name, method_version=self.version, n_reference=len(ref), n_current=len(cur),
            sampled=sampled, sample_size=self.max_rows if sampled else None, engine="checks",
            effect=mmd2, effect_name=self.effect_name,
        )


def _finite(column: pd.Series) -> bool:
    return bool(np.isfinite(column.to_numpy(dtype=float)).any())


def _numeric_rows(frame: pd.DataFrame) -> np.ndarray:
    rows = frame.to_numpy(dtype=float)
    return rows[np.isfinite(rows).all(axis=1)]


def _subsample(rows: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= cap else rows[rng.choice(len(rows), cap, replace=False)]


def _mmd_test(ref: np.ndarray, cur: np.ndarray, permutations: int, rng: np.random.Generator) -> tuple[float, float]:
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    # float32: the kernel pass dominates the cost, and the permutation ranks need no more precision.
    z = ((np.vstack([ref, cur]) - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)
    sq = (z * z).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    bandwidth = float(np.median(d2[np.triu_indices(len(z), k=1)])) or 1.0
    kernel = np.exp(-d2 / bandwidth)
    labels = np.r_[np.full(len(ref), 1 / len(ref)), np.full(len(cur), -1 / len(cur))].astype(np.float32)
    weights = np.column_stack([labels] + [rng.permutation(labels) for _ in range(permutations)])
    stats = np.einsum("ij,ij->j", weights, kernel @ weights)
    p_value = (1 + int(np.sum(stats[1:] >= stats[0] * (1 - 1e-5)))) / (permutations + 1)
    return float(p_value), float(stats[0])


MMD = JointCheck(name="mmd")
