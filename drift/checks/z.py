"""Two-proportion z-test for a two-valued column; the score is its two-sided p-value, the effect Cohen's h.

The share of every value but the first (in sorted order) is compared between the
samples with the pooled-variance z statistic — the one implementation, used on
series and on merged value counts alike. Cohen's ``h = |2·asin√p₁ − 2·asin√p₂|``
is the rate difference on a variance-stabilised scale: about ``2·|p₁ − p₂|`` near
0.5, and larger for the same difference near 0 or 1, where it matters more.
"""

from __future__ import annotations

import math

import pandas as pd

from drift.checks.base import DriftCheck, EffectSize
from drift.summary import ColumnSummary
from evaluators.normal import norm_sf


def two_proportion_p_value(share_ref: float, n_ref: int, share_cur: float, n_cur: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when both shares are 0 or 1)."""
    pooled = (share_ref * n_ref + share_cur * n_cur) / (n_ref + n_cur)
    spread = pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur)
    if spread <= 0:
        return 1.0
    return float(2 * norm_sf(abs(share_ref - share_cur) / math.sqrt(spread)))


def cohens_h(share_ref: float, share_cur: float) -> float:
    """``|2·asin√p_ref − 2·asin√p_cur|``, in [0, π]."""
    return abs(2 * math.asin(math.sqrt(share_ref)) - 2 * math.asin(math.sqrt(share_cur)))


def _shares(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    first = min(set(reference.unique()) | set(current.unique()))
    return float((reference != first).mean()), float((current != first).mean())


def _summary_shares(reference: ColumnSummary, current: ColumnSummary) -> tuple[float, float]:
    ref, cur = reference.values or {}, current.values or {}
    first = min(set(ref) | set(cur))
    return 1 - ref.get(first, 0) / reference.n, 1 - cur.get(first, 0) / current.n


def z_p_value(reference: pd.Series, current: pd.Series) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    p_ref, p_cur = _shares(reference, current)
    return two_proportion_p_value(p_ref, len(reference), p_cur, len(current))


def z_p_value_from_summaries(reference: ColumnSummary, current: ColumnSummary) -> float:
    """The same p-value from exact value counts."""
    p_ref, p_cur = _summary_shares(reference, current)
    return two_proportion_p_value(p_ref, reference.n, p_cur, current.n)


COHENS_H = EffectSize(
    name="cohens_h", floor=0.04,
    of_series=lambda r, c: cohens_h(*_shares(r, c)),
    of_summaries=lambda r, c: cohens_h(*_summary_shares(r, c)),
)

Z = DriftCheck(
    name="z",
    score_kind="p_value",
    default_threshold=0.05,
    kinds=("categorical", "numerical"),
    evidently_name="z",
    evidently_display_name="Z-test p_value",
    score=z_p_value,
    from_summaries=z_p_value_from_summaries,
    effect=COHENS_H,
)
