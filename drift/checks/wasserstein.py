"""First Wasserstein distance divided by the reference's standard deviation (a distance).

Normalising by the reference spread (population std, floored at 0.001) makes
0.1 mean "the distributions are a tenth of a standard deviation apart".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks.base import DriftCheck
from drift.summary import ColumnSummary, cdfs_on_grid, step_cdfs


def wasserstein_normed(reference: pd.Series, current: pd.Series) -> float:
    """W1(reference, current) / max(std(reference), 0.001)."""
    from scipy.stats import wasserstein_distance  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    ref = reference.to_numpy(dtype=float)
    norm = max(float(np.std(ref)), 0.001)
    return float(wasserstein_distance(ref, current.to_numpy(dtype=float)) / norm)


def wasserstein_from_summaries(ref: ColumnSummary, cur: ColumnSummary) -> float:
    """The same from merged summaries: exact step CDFs on few-valued columns, else the area
    between the piecewise-linear CDFs (within about a bin width of the exact value)."""
    if ref.values is not None and cur.values is not None:
        keys, fr, fc = step_cdfs(ref, cur)
        return float(np.sum(np.abs(fr - fc)[:-1] * np.diff(keys)) / max(ref.std, 0.001))
    grid, fr, fc = cdfs_on_grid(ref, cur)
    a, b, width = (fr - fc)[:-1], (fr - fc)[1:], np.diff(grid)
    same_sign = a * b >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (a * a + b * b) / (2 * (np.abs(a) + np.abs(b)))
    area = np.where(same_sign, np.abs(a + b) / 2, np.nan_to_num(crossing)) * width
    return float(area.sum() / max(ref.std, 0.001))


WASSERSTEIN = DriftCheck(
    name="wasserstein",
    score_kind="distance",
    default_threshold=0.1,
    kinds=("numerical",),
    evidently_name="wasserstein",
    evidently_display_name="Wasserstein distance (normed)",
    score=wasserstein_normed,
    from_summaries=wasserstein_from_summaries,
)
