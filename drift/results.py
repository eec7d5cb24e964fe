"""Typed drift results: one per column, and one per dataset.

A score is either a p-value (small means drift) or a distance (large means
drift); :func:`is_drifted` decides the direction from ``score_kind`` alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from suite.spec import Frozen

ScoreKind = Literal["p_value", "distance"]
ColumnKind = Literal["numerical", "categorical"]
Correction = Literal["bh", "holm", "none"]


def is_drifted(score: float, threshold: float, score_kind: ScoreKind) -> bool:
    """Whether ``score`` crosses ``threshold`` in the direction its kind implies.

    A p-value signals drift when it is below the significance level; a distance
    when it reaches the threshold (Evidently's ``>=`` convention).

    Example:
        >>> is_drifted(0.01, 0.05, "p_value"), is_drifted(0.2, 0.1, "distance")
        (True, True)
    """
    if score_kind == "p_value":
        return bool(score < threshold)
    return bool(score >= threshold)


class DriftResult(Frozen):
    """Drift of one column between a reference and a current sample.

    Attributes:
        column: The column compared.
        score: The p-value or distance.
        score_kind: ``"p_value"`` (drift when below threshold) or ``"distance"`` (drift at or above).
        threshold: The significance level or distance threshold used.
        drifted: The verdict.
        method: The check's registry name (``ks``, ``chi_square``, ``z``, ``wasserstein``,
            ``jensen_shannon``, ``psi``).
        method_version: The check's version, stored with results so history compares within a version.
        n_reference: Non-missing reference values compared.
        n_current: Non-missing current values compared.
        sampled: True when the score came from a random sample rather than every row.
        sample_size: Rows per side in that sample, else None.
        engine: What computed it: ``"checks"`` (Vigil's functions), ``"summaries"`` (merged shard
            summaries, see :mod:`drift.scale`) or ``"evidently"``.
        p_value: The raw p-value when the score is one, else None.
        p_adjusted: The p-value corrected across the columns of its comparison group (default
            policy only, see :mod:`drift.policy`), else None.
        effect: The effect size the check measures (K-S ``D``, total variation, Cohen's ``h``, MMD²), or None.
        effect_name: Which effect size ``effect`` is.
        effect_floor: The smallest effect the default policy calls drift, else None.
        alpha: Significance level of the default policy, else None (the threshold alone decides).
        correction: ``"bh"``, ``"holm"`` or ``"none"`` under the default policy; None when the suite
            named the method (then ``drifted`` is the score against ``threshold``, as before).
    """

    column: str
    score: float
    score_kind: ScoreKind
    threshold: float
    drifted: bool
    method: str
    method_version: str = "1"
    n_reference: int = Field(ge=0)
    n_current: int = Field(ge=0)
    sampled: bool = False
    sample_size: int | None = None
    engine: Literal["checks", "summaries", "evidently"] = "checks"
    p_value: float | None = None
    p_adjusted: float | None = None
    effect: float | None = None
    effect_name: str | None = None
    effect_floor: float | None = None
    alpha: float | None = None
    correction: Correction | None = None

    @classmethod
    def judge(cls, *, column: str, score: float, score_kind: ScoreKind, threshold: float, **rest: object) -> DriftResult:
        """Build a result whose ``drifted`` follows from score, threshold and kind."""
        return cls(
            column=column,
            score=float(score),
            score_kind=score_kind,
            threshold=threshold,
            drifted=is_drifted(float(score), threshold, score_kind),
            p_value=float(score) if score_kind == "p_value" else None,
            **rest,  # type: ignore[arg-type]
        )


class DatasetDrift(Frozen):
    """Drift over many columns: the dataset drifts when the drifted share reaches ``share_threshold``.

    Attributes:
        columns: One result per column, in the order compared.
        share_drifted: Fraction of columns whose verdict is drift.
        dataset_drifted: ``share_drifted >= share_threshold`` (Evidently's "Share of Drifted Columns" test).
        share_threshold: The share at which the dataset counts as drifted.
    """

    columns: list[DriftResult]
    share_drifted: float
    dataset_drifted: bool
    share_threshold: float = 0.5

    @model_validator(mode="after")
    def _share_matches(self) -> DatasetDrift:
        expected = sum(r.drifted for r in self.columns) / len(self.columns) if self.columns else 0.0
        if abs(expected - self.share_drifted) > 1e-9:
            raise ValueError(f"share_drifted: expected {expected} from the columns, got {self.share_drifted}")
        return self

    @classmethod
    def of(cls, columns: list[DriftResult], share_threshold: float = 0.5) -> DatasetDrift:
        """Summarise column results into a dataset verdict."""
        share = sum(r.drifted for r in columns) / len(columns) if columns else 0.0
        return cls(
            columns=columns,
            share_drifted=share,
            dataset_drifted=bool(columns) and share >= share_threshold,
            share_threshold=share_threshold,
        )

    def by_column(self) -> dict[str, DriftResult]:
        """Results keyed by column name."""
        return {r.column: r for r in self.columns}
