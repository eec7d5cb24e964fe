"""Pearson chi-square goodness of fit of current counts to reference shares; the score is a p-value.

Expected counts are the reference counts scaled to the current size; a category
never seen in the reference has expectation 0 and so gives p = 0 (certain drift),
as in Evidently. This treats the reference shares as exact, so it is Evidently's
test, kept for suites that name it; Vigil's default for categories is the
two-sample :mod:`drift.checks.chi_square_homogeneity`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks.base import TVD, DriftCheck, category_shares
from drift.summary import aligned_counts


def chi_square_p_value(reference: pd.Series, current: pd.Series) -> float:
    """p-value of the chi-square test of current category counts against reference shares."""
    ref_shares, cur_shares = category_shares(reference, current)
    return chi_square_from_counts(ref_shares * len(reference), cur_shares * len(current))


def chi_square_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """The same p-value from aligned count vectors (used on merged shard summaries)."""
    from scipy.stats import chisquare  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    expected = reference_counts * (current_counts.sum() / reference_counts.sum())
    if np.any((expected == 0) & (current_counts > 0)):
        return 0.0
    keep = expected > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(chisquare(current_counts[keep], expected[keep])[1])


CHI_SQUARE = DriftCheck(
    name="chi_square",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("categorical", "numerical"),
    evidently_name="chisquare",
    evidently_display_name="chi-square p_value",
    score=chi_square_p_value,
    from_summaries=lambda r, c: chi_square_from_counts(*aligned_counts(r, c)),
    effect=TVD,
)
