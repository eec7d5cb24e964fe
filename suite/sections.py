"""Suite sections owned by other packages' engines: data checks, perturbations, drift.

They live here, beside the suite spec, so the spec never imports an engine
package; the packages that implement them re-export them. Registry lookups in
validators are imported lazily for the same reason.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from suite.base import Frozen

DtypeFamily = Literal["int", "float", "numeric", "bool", "string", "category", "datetime"]


class ColumnCheck(Frozen):
    """Checks on one column; a checked column must be present.

    Attributes:
        dtype: the dtype family the column must have.
        min, max: inclusive bounds on non-missing values (numeric columns).
        max_missing: the largest allowed fraction of missing values, 0..1.
        allowed: the only values allowed (missing values are judged by ``max_missing``).
    """

    dtype: DtypeFamily | None = None
    min: float | None = None
    max: float | None = None
    max_missing: float | None = Field(default=None, ge=0.0, le=1.0)
    allowed: list[str | int | float | bool] | None = None


class DataChecksSpec(Frozen):
    """The suite's ``data_checks`` section: required columns and per-column checks."""

    required: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnCheck] = Field(default_factory=dict)


CLEAN = "clean"


class PerturbationSpec(Frozen):
    """One perturbation to evaluate at several severities.

    Attributes:
        kind: a registered perturbation name (unknown names get a did-you-mean).
        columns: feature names to perturb; ``None`` means every feature.
        severities: severities 0..5 to evaluate (0 is the clean data again).
    """

    kind: str
    columns: list[str] | None = None
    severities: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        from evaluators.perturbations import PERTURBATIONS  # the registry imports the suite spec

        if kind not in PERTURBATIONS:
            raise ValueError(PERTURBATIONS.unknown_message(kind))
        return kind

    @field_validator("severities")
    @classmethod
    def _in_range(cls, severities: list[int]) -> list[int]:
        bad = [s for s in severities if not 0 <= s <= 5]
        if bad or not severities:
            raise ValueError(f"expected a non-empty list of severities in 0..5, got {severities}")
        return sorted(set(severities))

    @model_validator(mode="after")
    def _enough_columns(self) -> PerturbationSpec:
        from evaluators.perturbations import PERTURBATIONS

        needed = PERTURBATIONS.get(self.kind).column_count
        if needed is not None and len(self.columns or ()) != needed:
            raise ValueError(f"{self.kind} needs exactly {needed} columns, got {self.columns}")
        return self

    def variants(self) -> list[str]:
        """Variant names of this spec, in severity order."""
        return [variant_name(self.kind, s) for s in self.severities]


class RobustnessSpec(Frozen):
    """How robustness is judged.

    Attributes:
        tolerance: the largest acceptable drop of the primary metric vs clean, in metric units.
    """

    tolerance: float = Field(default=0.02, ge=0.0)


def variant_name(kind: str, severity: int) -> str:
    """``"kind:severity"``; severity 0 is the clean variant."""
    return CLEAN if severity == 0 else f"{kind}:{severity}"


class DriftSpec(Frozen):
    """Data drift of evaluation data (and model outputs) against a reference dataset.

    Attributes:
        reference: Name of a suite dataset with ``use: reference``.
        columns: Columns to compare; None means every feature of the reference dataset.
        categorical: Columns to treat as categorical even when numeric.
        methods: Column -> drift check name (``ks``, ``chi_square``, ``chi_square_homogeneity``, ``z``,
            ``wasserstein``, ``jensen_shannon``, ``psi``) replacing the default policy for that column.
        thresholds: Column -> threshold of a named method, replacing the check's default.
        alpha: Significance level of the default policy (corrected p-values below it can drift).
        correction: How the default policy corrects the p-values of one comparison group:
            ``bh`` (Benjamini–Hochberg), ``holm`` or ``none``.
        effect_floors: Column -> smallest effect that counts as drift under the default policy, on the
            column's effect scale (K-S ``D``, total variation, Cohen's ``h``); see ``docs/drift.md``.
        multivariate: Also test the numeric data columns' joint distribution (``mmd``, one row of kind
            ``multivariate``, column ``<joint>``).
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
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["bh", "holm", "none"] = "bh"
    effect_floors: dict[str, float] = Field(default_factory=dict)
    multivariate: bool = True
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
            if not hasattr(DRIFT_CHECKS.get(name), "kinds"):
                raise ValueError(f"methods[{column}]: expected a column check, got the multivariate check {name!r}")
        return methods

    @field_validator("effect_floors")
    @classmethod
    def _non_negative(cls, floors: dict[str, float]) -> dict[str, float]:
        bad = {c: f for c, f in floors.items() if not f >= 0}
        if bad:
            raise ValueError(f"expected effect floors >= 0, got {bad}")
        return floors

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
    """How a metric series is judged against its accepted reference (see docs/drift.md, "Metric drift").

    Each series is compared with a FIXED reference period: by default its first ``reference``
    points; or the points whose runs started in ``[reference_from, reference_to)``; or exactly the
    runs in ``reference_runs``. A two-sided CUSUM on residuals standardised by each point's standard
    error (from its CI) and the reference's excess between-run variance opens one incident per change
    and closes it when the series returns to the reference.

    Attributes:
        reference: Number of first points of a series forming its reference (at least 3).
        reference_from: Only runs started at or after this time form the reference (UTC when no zone is given).
        reference_to: Only runs started before this time form the reference.
        reference_runs: The run ids forming the reference (overrides the two above).
        cusum_k: CUSUM slack, in standard deviations (half the shift it is tuned for); the detector adds
            ``0.5 / sqrt(reference size)`` for the reference mean's own uncertainty.
        cusum_h: CUSUM decision threshold, in standard deviations (doubled for a stream of single 0/1 rows).
        shewhart: A single point this many standard deviations from the current level alarms at once
            (not for single 0/1 rows).

    The keys ``history``, ``k``, ``min_history`` and ``require_ci_outside`` of the former rolling
    band are accepted and ignored, with a ``DeprecationWarning``.
    """

    reference: int = Field(default=10, ge=3)
    reference_from: datetime | None = None
    reference_to: datetime | None = None
    reference_runs: list[str] | None = Field(default=None, min_length=3)
    cusum_k: float = Field(default=0.5, ge=0)
    cusum_h: float = Field(default=6.0, gt=0)
    shewhart: float = Field(default=5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _drop_band_keys(cls, data: object) -> object:
        if isinstance(data, dict) and (old := sorted(set(data) & DEPRECATED_METRIC_DRIFT_KEYS)):
            warnings.warn(
                f"metric_drift: {', '.join(old)} belonged to the rolling band, which was replaced by a fixed "
                "reference (metric_drift.reference); they are ignored (see docs/drift.md)",
                DeprecationWarning, stacklevel=2,
            )
            data = {key: value for key, value in data.items() if key not in DEPRECATED_METRIC_DRIFT_KEYS}
        return data

    @field_validator("reference_from", "reference_to")
    @classmethod
    def _utc(cls, moment: datetime | None) -> datetime | None:
        """Times without a zone are UTC, like runs' ``started_at``."""
        return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment

    @model_validator(mode="after")
    def _ordered_range(self) -> MetricDriftSpec:
        if self.reference_from and self.reference_to and self.reference_from >= self.reference_to:
            raise ValueError(f"reference_from must be before reference_to, got {self.reference_from} >= {self.reference_to}")
        return self


DEPRECATED_METRIC_DRIFT_KEYS = frozenset({"history", "k", "min_history", "require_ci_outside"})
