"""Two-sample Kolmogorov–Smirnov test (two-sided); the score is its p-value, the effect its statistic D.

``D`` is the largest gap between the two empirical CDFs: the most probability mass
that lies below some value in one sample and above it in the other. From merged
summaries, ``D`` is exact on few-valued columns and taken at the histogram knots
otherwise (within one bin's mass), and the p-value uses scipy's asymptotic
distribution with the effective size ``n·m/(n+m)``.
"""

from __future__ import annotations

import pandas as pd

from drift.checks.base import DriftCheck, EffectSize
from drift.summary import ColumnSummary, cdf_gap


def ks_p_value(reference: pd.Series, current: pd.Series) -> float:
    """p-value of the two-sided two-sample K-S test (scipy's ``ks_2samp``, default method)."""
    from scipy.stats import ks_2samp  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    return float(ks_2samp(reference.to_numpy(), current.to_numpy())[1])


def ks_statistic(reference: pd.Series, current: pd.Series) -> float:
    """The K-S statistic ``D`` (largest CDF gap, in [0, 1])."""
    from scipy.stats import ks_2samp  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    return float(ks_2samp(reference.to_numpy(), current.to_numpy())[0])


def ks_p_value_from_summaries(reference: ColumnSummary, current: ColumnSummary) -> float:
    """Asymptotic p-value of ``D`` taken from two merged summaries."""
    from scipy.stats import kstwo  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    return float(kstwo.sf(cdf_gap(reference, current), round(reference.n * current.n / (reference.n + current.n))))


KS_D = EffectSize(name="ks_d", floor=0.02, of_series=ks_statistic, of_summaries=cdf_gap)

KS = DriftCheck(
    name="ks",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("numerical",),
    evidently_name="ks",
    evidently_display_name="K-S p_value",
    score=ks_p_value,
    from_summaries=ks_p_value_from_summaries,
    effect=KS_D,
)
