"""Suite sections for drift: data drift against a reference, and drift of a metric's history."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from suite.spec import Frozen


class DriftSpec(Frozen):
    """Data drift of evaluation data (and model outputs) against a reference dataset.

    Attributes:
        reference: Name of a suite dataset with ``use: reference``.
        columns: Columns to compare; None means every feature of the reference dataset.
        categorical: Columns to treat as categorical even when numeric.
        methods: Column -> drift check name (``ks``, ``chi_square``, ``z``, ``wasserstein``,
            ``jensen_shannon``, ``psi``) replacing Evidently's default choice.
        thresholds: Column -> threshold replacing the check's default.
        share_threshold: Share of drifted columns at which the dataset counts as drifted.
        window: Pandas frequency for windows over the dataset's timestamp column (e.g. ``"1D"``), or None.
        mode: ``"summaries"`` (merged per-shard summaries, any size), ``"evidently"`` (Evidently on the
            whole window, small windows only) or ``"auto"`` (Evidently up to ``evidently_max_rows``).
        evidently_max_rows: Largest window handed to Evidently whole under ``"auto"``.
        bins: Histogram bins per numeric column for summaries.
        predictions: Also compare the model outputs (``y_pred``, ``score_<k>``).
        target: Also compare labels when both sides have them.
        html: Save Evidently's HTML report for each window Evidently ran on.
    """

    reference: str
    columns: list[str] | None = None
    categorical: list[str] = Field(default_factory=list)
    methods: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    window: str | None = None
    mode: Literal["auto", "summaries", "evidently"] = "auto"
    evidently_max_rows: PositiveInt = 100_000
    bins: PositiveInt = 2048
    predictions: bool = True
    target: bool = True
    html: bool = True

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: dict[str, str]) -> dict[str, str]:
        from drift.checks import DRIFT_CHECKS

        for column, name in methods.items():
            if name not in DRIFT_CHECKS:
                raise ValueError(f"methods[{column}]: {DRIFT_CHECKS.unknown_message(name)}")
        return methods

    @field_validator("window")
    @classmethod
    def _a_frequency(cls, window: str | None) -> str | None:
        if window is not None:
            import pandas as pd

            try:
                pd.tseries.frequencies.to_offset(window)
            except ValueError:
                raise ValueError(f"expected a pandas frequency such as '1D' or '6h', got {window!r}") from None
        return window


class MetricDriftSpec(Frozen):
    """When a metric's latest value has left its normal band, or its history has shifted.

    Attributes:
        history: Past runs forming the band (the latest N before the newest point).
        k: Band half-width in robust standard deviations (1.4826 × MAD).
        min_history: Fewer past runs than this: no verdict.
        require_ci_outside: Flag only when the point's whole confidence interval lies outside the band.
        cusum_k: CUSUM slack, in robust standard deviations.
        cusum_h: CUSUM decision threshold, in robust standard deviations.
    """

    history: PositiveInt = 20
    k: float = Field(default=3.0, gt=0)
    min_history: PositiveInt = 5
    require_ci_outside: bool = True
    cusum_k: float = Field(default=0.5, ge=0)
    cusum_h: float = Field(default=5.0, gt=0)
