"""Jensen–Shannon distance (natural log; the square root of the divergence, in [0, sqrt(ln 2)]).

Numeric columns with more than 20 distinct reference values are binned on
Sturges edges over both samples; others are compared per category.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks.base import DriftCheck, binned_shares
from drift.summary import binned_shares as summary_shares


def jensen_shannon_distance(reference: pd.Series, current: pd.Series) -> float:
    """Jensen–Shannon distance between the binned or per-category shares."""
    ref, cur = binned_shares(reference, current)
    return js_from_shares(ref, cur)


def js_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance of two aligned share vectors."""
    from scipy.spatial import distance  # imported on use: importing SciPy's modules costs every start CPU (issue 18)
    return float(distance.jensenshannon(reference, current))


JENSEN_SHANNON = DriftCheck(
    name="jensen_shannon",
    score_kind="distance",
    default_threshold=0.1,
    kinds=("categorical", "numerical"),
    evidently_name="jensenshannon",
    evidently_display_name="Jensen-Shannon distance",
    score=jensen_shannon_distance,
    from_summaries=lambda r, c: js_from_shares(*summary_shares(r, c)),
)
