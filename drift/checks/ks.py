"""Two-sample Kolmogorov–Smirnov test (two-sided); the score is its p-value."""

from __future__ import annotations

import pandas as pd
from scipy.stats import ks_2samp

from drift.checks.base import DriftCheck


def ks_p_value(reference: pd.Series, current: pd.Series) -> float:
    """p-value of the two-sided two-sample K-S test (scipy's ``ks_2samp``, default method)."""
    return float(ks_2samp(reference.to_numpy(), current.to_numpy())[1])


KS = DriftCheck(
    name="ks",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("numerical",),
    evidently_name="ks",
    score=ks_p_value,
)
