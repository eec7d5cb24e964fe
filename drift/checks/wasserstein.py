"""First Wasserstein distance divided by the reference's standard deviation (a distance).

Normalising by the reference spread (population std, floored at 0.001) makes
0.1 mean "the distributions are a tenth of a standard deviation apart".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from drift.checks.base import DriftCheck


def wasserstein_normed(reference: pd.Series, current: pd.Series) -> float:
    """W1(reference, current) / max(std(reference), 0.001)."""
    ref = reference.to_numpy(dtype=float)
    norm = max(float(np.std(ref)), 0.001)
    return float(wasserstein_distance(ref, current.to_numpy(dtype=float)) / norm)


WASSERSTEIN = DriftCheck(
    name="wasserstein",
    score_kind="distance",
    default_threshold=0.1,
    kinds=("numerical",),
    evidently_name="wasserstein",
    score=wasserstein_normed,
)
