"""Suite sections owned by other packages' engines: data checks, perturbations, drift.

They live here, beside the suite spec, so the spec never imports an engine
package; the packages that implement them re-export them. Names that refer to
those packages' registries are checked by the checks they install
(:mod:`suite.name_checks`).
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, field_validator, model_validator

from suite.base import Frozen
from suite.name_checks import check_name

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
        check_name("perturbations.kind", kind)
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
        check_name("perturbations.columns", self)
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


_CALENDAR = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q-DEC", "year": "Y-DEC"}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WINDOW_HELP = ("a fixed span such as '1D' or '6h', a calendar period (day, week, month, quarter, year, "
               "or a pandas alias such as '1W', '1ME', '1MS'), {rows: N}, {calendar: ...} or {every: ...}")


def _offset(text: str) -> Any:
    import pandas as pd

    try:
        return pd.tseries.frequencies.to_offset(text)
    except ValueError:
        return None


def calendar_period(text: str) -> str:
    """The pandas period frequency of a calendar window: ``week`` or ``1W`` -> ``W-SUN``, ``1MS`` -> ``M``.

    Calendar windows are whole periods (weeks Monday to Sunday, months, quarters, years), never spans
    counted from the epoch.

    Example:
        >>> [calendar_period(t) for t in ("month", "1ME", "1MS", "W-MON", "QS")]
        ['M', 'M', 'M', 'W-MON', 'Q-DEC']
    """
    if text in _CALENDAR:
        return _CALENDAR[text]
    offset = _offset(text)
    if offset is None or offset.n != 1:
        raise ValueError(f"expected {WINDOW_HELP}, got {text!r}")
    prefix, _, month = offset.name.partition("-")
    if prefix == "D":
        return "D"
    if prefix == "W":
        return offset.name
    if prefix in ("ME", "MS"):
        return "M"
    if prefix in ("QE", "QS", "YE", "YS"):
        end = month if prefix.endswith("E") else _MONTHS[_MONTHS.index(month) - 1]
        return f"{prefix[0]}-{end}"
    raise ValueError(f"expected {WINDOW_HELP}, got {text!r}")


class WindowSpec(Frozen):
    """How a stream is cut into windows: exactly one of ``rows``, ``calendar`` or ``every``.

    Attributes:
        rows: Consecutive rows per window (in timestamp order when there is one; no timestamp needed).
        calendar: Calendar periods: ``day``, ``week`` (Monday to Sunday), ``month``, ``quarter``, ``year``,
            or a pandas calendar alias such as ``1W``, ``W-MON``, ``1ME``, ``1MS``, ``QS``.
        every: A fixed span such as ``1D`` or ``6h``, aligned to multiples of the span from the epoch.
    """

    rows: PositiveInt | None = None
    calendar: str | None = None
    every: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> WindowSpec:
        given = [k for k in ("rows", "calendar", "every") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"expected exactly one of rows, calendar or every, got {given or 'none'}")
        if self.calendar is not None:
            calendar_period(self.calendar)
        if self.every is not None and not _is_span(self.every):
            raise ValueError(f"every: expected a fixed span such as '1D' or '6h', got {self.every!r}")
        return self

    @property
    def label(self) -> str:
        """The spec as written: ``rows=500``, ``calendar=month`` or ``every=1D``."""
        key = next(k for k in ("rows", "calendar", "every") if getattr(self, k) is not None)
        return f"{key}={getattr(self, key)}"


def _is_span(text: str) -> bool:
    import pandas as pd

    offset = _offset(text)
    return offset is not None and isinstance(offset, pd.offsets.Tick)


def as_window(value: str | WindowSpec) -> WindowSpec:
    """A window as written (``"1D"``, ``"1ME"`` or a mapping) in its one normal form.

    Example:
        >>> as_window("6h").every, as_window("1W").calendar
        ('6h', '1W')
    """
    if isinstance(value, WindowSpec):
        return value
    if _is_span(value):
        return WindowSpec(every=value)
    calendar_period(value)
    return WindowSpec(calendar=value)


class ReferenceRange(Frozen):
    """A time range ``[start, end)`` of the reference dataset; either end may be left open."""

    start: datetime | None = None
    end: datetime | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceRange:
        if self.start is None and self.end is None:
            raise ValueError("expected start and/or end, got neither")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"expected start before end, got {self.start} .. {self.end}")
        return self


class DriftSpec(Frozen):
    """Data drift of evaluation data (and model outputs) against a reference dataset.

    Attributes:
        reference: Name of a suite dataset with ``use: reference``.
        reference_rows: ``[start, end)`` row positions of the reference dataset to use as the reference;
            the rest of that dataset is then watched as a stream.
        reference_range: The same as a time range ``{start, end}`` of the reference's timestamp column.
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
        window: How ``vigil drift`` cuts streams: a fixed span (``"1D"``, ``"6h"``), a calendar period
            (``"1W"``, ``"1ME"``) or a :class:`WindowSpec` mapping (``{rows: 500}``); None means ``1D``.
        signal_alpha: Significance level of the label, prediction and metric tests that name a window's pattern.
        mode: ``"summaries"`` (merged per-shard summaries, any size), ``"evidently"`` (Evidently on the
            whole window, small windows only) or ``"auto"`` (Evidently up to ``evidently_max_rows``).
        evidently_max_rows: Largest window handed to Evidently whole under ``"auto"``.
        bins: Histogram bins per numeric column for summaries.
        predictions: Also compare the model outputs (``y_pred``, ``score_<k>``).
        target: Also compare labels when both sides have them.
        html: Save Evidently's HTML report for each window Evidently ran on.
    """

    reference: str
    # The keys added with window signals are left out of the fingerprint at their defaults (older suites keep theirs).
    reference_rows: tuple[NonNegativeInt, PositiveInt] | None = Field(default=None, exclude_if=lambda v: v is None)
    reference_range: ReferenceRange | None = Field(default=None, exclude_if=lambda v: v is None)
    columns: list[str] | None = None
    categorical: list[str] = Field(default_factory=list)
    methods: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["bh", "holm", "none"] = "bh"
    effect_floors: dict[str, float] = Field(default_factory=dict)
    multivariate: bool = True
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    window: str | WindowSpec | None = None
    signal_alpha: float = Field(default=0.001, gt=0, lt=0.5, exclude_if=lambda v: v == 0.001)
    mode: Literal["auto", "summaries", "evidently"] = "auto"
    evidently_max_rows: PositiveInt = 100_000
    bins: PositiveInt = 2048
    predictions: bool = True
    target: bool = True
    html: bool = True

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: dict[str, str]) -> dict[str, str]:
        check_name("drift.methods", methods)
        return methods

    @field_validator("effect_floors")
    @classmethod
    def _non_negative(cls, floors: dict[str, float]) -> dict[str, float]:
        bad = {c: f for c, f in floors.items() if not f >= 0}
        if bad:
            raise ValueError(f"expected effect floors >= 0, got {bad}")
        return floors

    @field_validator("window", mode="before")
    @classmethod
    def _a_window(cls, window: Any) -> Any:
        if window is None or isinstance(window, WindowSpec):
            return window
        if isinstance(window, str):
            as_window(window)
            return window
        if isinstance(window, dict):
            try:
                return WindowSpec.model_validate(window)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                problem = str(first.get("ctx", {}).get("error", first["msg"]))
                problem = problem.replace("Input should be", "expected").replace("Extra inputs are not permitted", "unknown key")
                raise ValueError(f"{where + ': ' if where else ''}{problem}, got {first.get('input')!r}"
                                 if "got" not in problem else f"{where + ': ' if where else ''}{problem}") from None
        raise ValueError(f"expected {WINDOW_HELP}, got {window!r}")

    @model_validator(mode="after")
    def _one_reference_part(self) -> DriftSpec:
        if self.reference_rows is not None and self.reference_range is not None:
            raise ValueError("reference_rows: give at most one of reference_rows or reference_range")
        if self.reference_rows is not None and self.reference_rows[0] >= self.reference_rows[1]:
            raise ValueError(f"reference_rows: expected [start, end) with start < end, got {list(self.reference_rows)}")
        return self

    @property
    def windowing(self) -> WindowSpec:
        """The window in normal form (``1D`` when none is given)."""
        return as_window(self.window or "1D")


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
