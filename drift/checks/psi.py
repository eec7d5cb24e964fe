"""Population stability index: sum over bins of (ref - cur) * ln(ref / cur) (a distance).

Bins as for Jensen–Shannon; empty bins get a tiny share so the log stays finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks.base import DriftCheck, binned_shares, fill_zero_shares
from drift.summary import binned_shares as summary_shares


def psi(reference: pd.Series, current: pd.Series) -> float:
    """PSI between binned or per-category shares."""
    ref, cur = binned_shares(reference, current)
    return psi_from_shares(ref, cur)


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two aligned share vectors, after filling empty bins."""
    ref, cur = fill_zero_shares(reference), fill_zero_shares(current)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


PSI = DriftCheck(
    name="psi",
    score_kind="distance",
    default_threshold=0.1,
    kinds=("categorical", "numerical"),
    evidently_name="psi",
    evidently_display_name="PSI",
    score=psi,
    from_summaries=lambda r, c: psi_from_shares(*summary_shares(r, c)),
)
