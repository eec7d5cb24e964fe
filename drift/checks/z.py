"""Two-proportion z-test for a two-valued column; the score is its two-sided p-value.

The share of the first value (in sorted order) is compared between samples with
the pooled-variance z statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from drift.checks.base import DriftCheck


def z_p_value(reference: pd.Series, current: pd.Series) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    keys = sorted(set(reference.unique()) | set(current.unique()))
    if len(keys) == 1:
        return 1.0
    p_ref = float((reference != keys[0]).mean())
    p_cur = float((current != keys[0]).mean())
    n_ref, n_cur = len(reference), len(current)
    pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    z = (p_ref - p_cur) / np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    return float(2 * (1 - norm.cdf(abs(z))))


Z = DriftCheck(
    name="z",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("categorical", "numerical"),
    evidently_name="z",
    score=z_p_value,
)
