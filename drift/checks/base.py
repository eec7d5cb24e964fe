"""What every drift check shares: its record type, input cleaning and binning.

The definitions follow Evidently 0.7's legacy stat tests so that a Vigil check
and Evidently agree on the same data: missing and infinite values are dropped,
numeric columns with more than 20 distinct reference values are binned on
Sturges edges over both samples, other columns are compared by category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from drift.results import ColumnKind, DriftResult, ScoreKind
from drift.summary import ColumnSummary, aligned_counts
from suite.errors import VigilError


@dataclass(frozen=True)
class EffectSize:
    """How large a change is, on a scale that does not grow with the sample size.

    Attributes:
        name: Stored in ``DriftResult.effect_name`` (``ks_d``, ``tvd``, ``cohens_h``).
        floor: The default policy's smallest effect that counts as drift (see :mod:`drift.policy`).
        of_series: ``(reference, current) -> effect`` on cleaned series.
        of_summaries: The same from two merged :class:`~drift.summary.ColumnSummary`.
    """

    name: str
    floor: float
    of_series: Callable[[pd.Series, pd.Series], float]
    of_summaries: Callable[[ColumnSummary, ColumnSummary], float]


@dataclass(frozen=True)
class DriftCheck:
    """A named drift check: a pure score function plus the facts that interpret its score.

    Attributes:
        name: Registry name, stored in ``DriftResult.method``.
        score_kind: ``"p_value"`` or ``"distance"``: fixes the threshold's direction.
        default_threshold: Threshold used when none is given.
        kinds: Column kinds the check accepts.
        evidently_name: The name Evidently's ``per_column_method`` knows it by (None: Vigil only).
        evidently_display_name: The name Evidently's results show when Evidently chose the test itself.
        score: ``(reference, current) -> score`` on cleaned series.
        from_summaries: The same score from two merged column summaries (large windows).
        effect: The effect size recorded beside the score, and floored by the default policy.
        version: Bumped whenever the score's definition changes.
    """

    name: str
    score_kind: ScoreKind
    default_threshold: float
    kinds: tuple[ColumnKind, ...]
    evidently_name: str | None
    score: Callable[[pd.Series, pd.Series], float]
    from_summaries: Callable[[ColumnSummary, ColumnSummary], float]
    effect: EffectSize | None = None
    version: str = "1"
    evidently_display_name: str | None = None

    def __call__(self, reference: pd.Series, current: pd.Series, threshold: float | None = None) -> DriftResult:
        """Compare ``current`` with ``reference`` and judge the score against ``threshold``."""
        ref, cur = clean(reference), clean(current)
        return self._judge(
            str(reference.name), self.score(ref, cur), threshold, len(ref), len(cur),
            None if self.effect is None else self.effect.of_series(ref, cur), engine="checks",
        )

    def on_summaries(self, column: str, reference: ColumnSummary, current: ColumnSummary,
                     threshold: float | None = None) -> DriftResult:
        """The same judgement from merged shard summaries (``engine="summaries"``)."""
        if reference.n == 0 or current.n == 0:
            raise VigilError(f"drift of {column!r}: expected values on both sides, got {reference.n} and {current.n}")
        effect = None if self.effect is None else self.effect.of_summaries(reference, current)
        return self._judge(column, self.from_summaries(reference, current), threshold, reference.n, current.n,
                           effect, engine="summaries")

    def _judge(self, column: str, score: float, threshold: float | None, n_ref: int, n_cur: int,
               effect: float | None, engine: str) -> DriftResult:
        return DriftResult.judge(
            column=column, score=score, score_kind=self.score_kind,
            threshold=self.default_threshold if threshold is None else threshold,
            method=self.name, method_version=self.version, n_reference=n_ref, n_current=n_cur, engine=engine,
            effect=effect, effect_name=None if self.effect is None else self.effect.name,
        )


def clean(series: pd.Series) -> pd.Series:
    """Drop missing and infinite values, as Evidently does before any stat test."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        series = series.replace([np.inf, -np.inf], np.nan)
    return series.dropna()


def category_shares(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per-category shares over the union of categories (a category absent on one side counts 0)."""
    ref_counts = reference.value_counts()
    cur_counts = current.value_counts()
    keys = ref_counts.index.union(cur_counts.index)
    ref = ref_counts.reindex(keys, fill_value=0).to_numpy(dtype=float) / len(reference)
    cur = cur_counts.reindex(keys, fill_value=0).to_numpy(dtype=float) / len(current)
    return ref, cur


def binned_shares(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Shares per bin: Sturges edges over both samples for numeric columns with > 20 distinct
    reference values, else per category."""
    if pd.api.types.is_numeric_dtype(reference.dtype) and reference.nunique() > 20:
        combined = np.concatenate([reference.to_numpy(dtype=float), current.to_numpy(dtype=float)])
        edges = np.histogram_bin_edges(combined, bins="sturges")
        return (
            np.histogram(reference.to_numpy(dtype=float), edges)[0] / len(reference),
            np.histogram(current.to_numpy(dtype=float), edges)[0] / len(current),
        )
    return category_shares(reference, current)


def fill_zero_shares(shares: np.ndarray) -> np.ndarray:
    """Replace empty bins by a tiny share so logarithms stay finite (Evidently's rule:
    1e-4, or the smallest non-zero share / 1e6 when that share is at most 1e-4)."""
    out = shares.astype(float).copy()
    smallest = out[out > 0].min()
    out[out == 0] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return out


def evidently_method(kind: ColumnKind, n_reference: int, n_unique: int) -> str:
    """The check Evidently 0.7 picks by default for a column (Vigil's own default is
    :func:`drift.policy.default_check_name`).

    Args:
        kind: The column's kind.
        n_reference: Non-missing reference rows.
        n_unique: Distinct values over reference and current together.

    Example:
        >>> evidently_method("numerical", 500, 100), evidently_method("numerical", 5000, 100)
        ('ks', 'wasserstein')
    """
    if n_reference <= 1000:
        if kind == "numerical" and n_unique > 5:
            return "ks"
        return "chi_square" if n_unique > 2 else "z"
    if kind == "numerical" and n_unique > 5:
        return "wasserstein"
    return "jensen_shannon"


def column_kind(series: pd.Series) -> ColumnKind:
    """Numeric dtypes (but not booleans) are numerical; everything else is categorical."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return "numerical"
    return "categorical"


def total_variation(reference: pd.Series, current: pd.Series) -> float:
    """Total variation distance of the per-value shares: half their L1 gap, the share of mass that moved."""
    ref, cur = category_shares(reference, current)
    return float(np.abs(ref - cur).sum() / 2)


def total_variation_from_summaries(reference: ColumnSummary, current: ColumnSummary) -> float:
    """The same from exact value counts."""
    ref, cur = aligned_counts(reference, current)
    return float(np.abs(ref / reference.n - cur / current.n).sum() / 2)


TVD = EffectSize(name="tvd", floor=0.02, of_series=total_variation, of_summaries=total_variation_from_summaries)
"""Total variation distance, the effect of the chi-square checks."""
