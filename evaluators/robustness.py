"""Robustness curves: how a primary metric degrades as a perturbation's severity grows.

Input is one :class:`SeverityPoint` per evaluated severity (severity 0 is the
clean data) with the metric's value and confidence interval. From it:

* :func:`robustness_curve` gives one :class:`CurvePoint` record per severity with
  the drop vs clean, signed so that a positive drop is always *worse* (for a
  lower-is-better metric such as log loss the drop is ``value - clean``);
* :func:`breaking_severity` is the first severity whose drop exceeds the
  tolerance *and* whose CI excludes "no drop" (for higher-is-better: the CI's
  upper end is below the clean value), or ``None`` if none breaks;
* :func:`relative_robustness` is the normalised area under the curve: with
  ``r(s) = value(s) / clean`` (higher-is-better) or ``clean / value(s)``
  (lower-is-better), the trapezoid integral of ``r`` over the evaluated severities
  divided by their span. 1.0 means no degradation anywhere; 0.5 means, on
  average over the severity range, half the clean score was kept.

Example:
    >>> pts = [SeverityPoint(0, 0.9, 0.88, 0.92), SeverityPoint(1, 0.89, 0.87, 0.91),
    ...        SeverityPoint(2, 0.80, 0.78, 0.82)]
    >>> breaking_severity(pts, tolerance=0.02, higher_is_better=True)
    2
    >>> round(relative_robustness(pts, higher_is_better=True), 4)
    0.9667
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from evaluators.perturbations.spec import CLEAN, variant_name
from suite.errors import VigilError

VERSION = "1"


@dataclass(frozen=True)
class SeverityPoint:
    """The primary metric at one severity (0 = clean) with its confidence interval."""

    severity: int
    value: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class CurvePoint:
    """One record of a robustness curve.

    Attributes:
        severity: 0..5 (0 = clean).
        value, ci_low, ci_high: the metric and its CI at this severity.
        drop: how much worse than clean, in metric units (positive = worse).
        relative: ``value / clean`` (higher-is-better) or ``clean / value`` (lower-is-better).
        significant: the CI excludes "no drop" (lies entirely on the worse side of clean).
        broken: ``drop > tolerance`` and ``significant``.
    """

    severity: int
    value: float
    ci_low: float
    ci_high: float
    drop: float
    relative: float | None
    significant: bool
    broken: bool


def _sorted_with_clean(points: Sequence[SeverityPoint]) -> list[SeverityPoint]:
    ordered = sorted(points, key=lambda p: p.severity)
    severities = [p.severity for p in ordered]
    if not ordered or ordered[0].severity != 0 or len(set(severities)) != len(severities):
        raise VigilError(f"robustness: expected distinct severities including 0 (clean), got {severities}")
    return ordered


def _ratio(value: float, clean: float, higher_is_better: bool) -> float | None:
    num, den = (value, clean) if higher_is_better else (clean, value)
    return None if den == 0 else num / den


def robustness_curve(
    points: Sequence[SeverityPoint], *, tolerance: float, higher_is_better: bool
) -> list[CurvePoint]:
    """Curve records in severity order, with drops signed so positive is worse."""
    ordered = _sorted_with_clean(points)
    clean = ordered[0].value
    curve = []
    for p in ordered:
        drop = clean - p.value if higher_is_better else p.value - clean
        significant = p.severity > 0 and (p.ci_high < clean if higher_is_better else p.ci_low > clean)
        curve.append(
            CurvePoint(
                p.severity, p.value, p.ci_low, p.ci_high, drop, _ratio(p.value, clean, higher_is_better),
                significant, significant and drop > tolerance,
            )
        )
    return curve


def breaking_severity(
    points: Sequence[SeverityPoint], *, tolerance: float, higher_is_better: bool
) -> int | None:
    """The first severity whose drop exceeds ``tolerance`` with a CI excluding no drop, else ``None``."""
    curve = robustness_curve(points, tolerance=tolerance, higher_is_better=higher_is_better)
    return next((c.severity for c in curve if c.broken), None)


def relative_robustness(points: Sequence[SeverityPoint], *, higher_is_better: bool) -> float | None:
    """Trapezoid area under ``r(s)`` over the evaluated severities divided by their span.

    ``None`` when a ratio is undefined (a zero denominator) or only the clean point exists.
    """
    ordered = _sorted_with_clean(points)
    if len(ordered) < 2:
        return None
    ratios = [_ratio(p.value, ordered[0].value, higher_is_better) for p in ordered]
    if any(r is None for r in ratios):
        return None
    xs = [float(p.severity) for p in ordered]
    area = sum((xs[i + 1] - xs[i]) * (ratios[i] + ratios[i + 1]) / 2 for i in range(len(xs) - 1))  # type: ignore[operator]
    return area / (xs[-1] - xs[0])


def severity_points(rows: pd.DataFrame, kind: str) -> list[SeverityPoint]:
    """Points for perturbation ``kind`` from long-format results rows of one (run, dataset, model, slice, metric).

    Uses the ``variant``, ``value``, ``ci_low`` and ``ci_high`` columns; the ``"clean"``
    row is severity 0 and ``"<kind>:<s>"`` rows are severity ``s``; other variants are ignored.

    Example:
        >>> rows = pd.DataFrame({"variant": ["clean", "outliers:2", "casing:1"], "value": [0.9, 0.7, 0.8],
        ...                      "ci_low": [0.8, 0.6, 0.7], "ci_high": [1.0, 0.8, 0.9]})
        >>> [p.severity for p in severity_points(rows, "outliers")]
        [0, 2]
    """
    wanted = {variant_name(kind, s): s for s in range(1, 6)} | {CLEAN: 0}
    chosen = rows[rows["variant"].isin(wanted)]
    return [
        SeverityPoint(wanted[r.variant], float(r.value), float(r.ci_low), float(r.ci_high))
        for r in chosen.itertuples(index=False)
    ]
