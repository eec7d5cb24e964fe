"""Two-sample chi-square test of homogeneity on a 2 × k table of counts; the score is its p-value.

Unlike the goodness-of-fit ``chi_square`` (Evidently's), both samples are random
here, so its false-alarm rate holds when the reference is no larger than the
window. Values whose expected count on the smaller side would be under
``MIN_EXPECTED`` are pooled into one cell first (the chi-square approximation
needs about five per cell; a handful of rare values would otherwise inflate the
statistic). No continuity correction. The effect is the total variation distance
of the unpooled shares.

Example:
    >>> import pandas as pd
    >>> ref = pd.Series(list("aabbc") * 200, name="c")
    >>> cur = pd.Series(list("abbcc") * 200, name="c")
    >>> r = CHI_SQUARE_HOMOGENEITY(ref, cur)
    >>> r.score < 1e-6, round(r.effect, 2)
    (True, 0.2)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks.base import TVD, DriftCheck
from drift.summary import aligned_counts

MIN_EXPECTED = 5.0


def homogeneity_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """p-value of Pearson's test that two aligned count vectors come from one distribution."""
    from scipy.stats import chi2  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)
    ref, cur = np.asarray(reference_counts, dtype=float), np.asarray(current_counts, dtype=float)
    totals = ref + cur
    keep = totals > 0
    ref, cur, totals = ref[keep], cur[keep], totals[keep]
    n_ref, n_cur = ref.sum(), cur.sum()
    rare = totals * min(n_ref, n_cur) / (n_ref + n_cur) < MIN_EXPECTED
    if rare.any():
        ref = np.append(ref[~rare], ref[rare].sum())
        cur = np.append(cur[~rare], cur[rare].sum())
        totals = ref + cur
    if len(totals) < 2 or n_ref == 0 or n_cur == 0:
        return 1.0
    exp_ref, exp_cur = totals * n_ref / (n_ref + n_cur), totals * n_cur / (n_ref + n_cur)
    stat = float(((ref - exp_ref) ** 2 / exp_ref).sum() + ((cur - exp_cur) ** 2 / exp_cur).sum())
    return float(chi2.sf(stat, len(totals) - 1))


def _counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = reference.value_counts(), current.value_counts()
    keys = ref.index.union(cur.index)
    return ref.reindex(keys, fill_value=0).to_numpy(float), cur.reindex(keys, fill_value=0).to_numpy(float)


CHI_SQUARE_HOMOGENEITY = DriftCheck(
    name="chi_square_homogeneity",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("categorical", "numerical"),
    evidently_name=None,
    score=lambda r, c: homogeneity_p_value(*_counts(r, c)),
    from_summaries=lambda r, c: homogeneity_p_value(*aligned_counts(r, c)),
    effect=TVD,
)
