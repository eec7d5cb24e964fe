"""Robustness curves, breaking severity and relative robustness on hand-computed examples."""

from __future__ import annotations

import pytest

from evaluators.robustness import (
    SeverityPoint,
    breaking_severity,
    relative_robustness,
    robustness_curve,
    severity_points,
)
from suite.errors import VigilError

ACCURACY = [
    SeverityPoint(0, 0.90, 0.88, 0.92),
    SeverityPoint(1, 0.89, 0.87, 0.91),  # drop 0.01: within tolerance
    SeverityPoint(2, 0.85, 0.80, 0.91),  # drop 0.05 but CI reaches above 0.90: not significant
    SeverityPoint(3, 0.80, 0.78, 0.82),  # drop 0.10, CI below clean: breaks
    SeverityPoint(5, 0.60, 0.55, 0.65),
]


def test_curve_records_and_breaking_severity_higher_is_better() -> None:
    curve = robustness_curve(ACCURACY, tolerance=0.02, higher_is_better=True)
    assert [c.severity for c in curve] == [0, 1, 2, 3, 5]
    assert [round(c.drop, 10) for c in curve] == [0.0, 0.01, 0.05, 0.1, 0.3]
    assert [c.significant for c in curve] == [False, False, False, True, True]
    assert [c.broken for c in curve] == [False, False, False, True, True]
    assert curve[3].relative == pytest.approx(0.8 / 0.9)
    assert breaking_severity(ACCURACY, tolerance=0.02, higher_is_better=True) == 3
    assert breaking_severity(ACCURACY, tolerance=0.5, higher_is_better=True) is None


def test_significant_but_small_drop_does_not_break() -> None:
    points = [SeverityPoint(0, 0.90, 0.899, 0.901), SeverityPoint(1, 0.885, 0.884, 0.886)]
    curve = robustness_curve(points, tolerance=0.02, higher_is_better=True)
    assert curve[1].significant and not curve[1].broken


def test_lower_is_better_metric() -> None:
    log_loss = [SeverityPoint(2, 0.50, 0.45, 0.55), SeverityPoint(0, 0.25, 0.24, 0.26), SeverityPoint(1, 0.26, 0.20, 0.30)]
    assert breaking_severity(log_loss, tolerance=0.02, higher_is_better=False) == 2
    curve = robustness_curve(log_loss, tolerance=0.02, higher_is_better=False)
    assert [round(c.drop, 10) for c in curve] == [0.0, 0.01, 0.25]
    # ratios clean/value: 1, 0.25/0.26, 0.5 -> trapezoid over [0, 2] / 2
    expected = ((1 + 0.25 / 0.26) / 2 + (0.25 / 0.26 + 0.5) / 2) / 2
    assert relative_robustness(log_loss, higher_is_better=False) == pytest.approx(expected)


def test_relative_robustness_uneven_severities() -> None:
    # ratios 1, 0.98889, 0.88889, 0.66667 at 0, 1, 3, 5: widths 1, 2, 2
    r = [1.0, 0.89 / 0.9, 0.8 / 0.9, 0.6 / 0.9]
    area = (r[0] + r[1]) / 2 + 2 * (r[1] + r[2]) / 2 + 2 * (r[2] + r[3]) / 2
    points = [p for p in ACCURACY if p.severity != 2]
    assert relative_robustness(points, higher_is_better=True) == pytest.approx(area / 5)
    assert relative_robustness(points[:1], higher_is_better=True) is None
    flat = [SeverityPoint(s, 0.7, 0.6, 0.8) for s in range(6)]
    assert relative_robustness(flat, higher_is_better=True) == pytest.approx(1.0)
    assert relative_robustness([SeverityPoint(0, 0.0, 0, 0), SeverityPoint(1, 0.1, 0, 0.2)], higher_is_better=True) is None


def test_clean_point_is_required() -> None:
    with pytest.raises(VigilError, match=r"expected distinct severities including 0 \(clean\), got \[1, 2\]"):
        breaking_severity(ACCURACY[1:3], tolerance=0.02, higher_is_better=True)
    with pytest.raises(VigilError, match=r"got \[0, 0\]"):
        relative_robustness([ACCURACY[0], ACCURACY[0]], higher_is_better=True)


def test_severity_points_from_results_rows() -> None:
    import pandas as pd

    rows = pd.DataFrame(
        {
            "variant": ["gaussian_noise:3", "clean", "outliers:1", "gaussian_noise:1"],
            "value": [0.7, 0.9, 0.1, 0.85],
            "ci_low": [0.6, 0.85, 0.0, 0.8],
            "ci_high": [0.8, 0.95, 0.2, 0.9],
        }
    )
    points = severity_points(rows, "gaussian_noise")
    assert sorted(points, key=lambda p: p.severity) == [
        SeverityPoint(0, 0.9, 0.85, 0.95), SeverityPoint(1, 0.85, 0.8, 0.9), SeverityPoint(3, 0.7, 0.6, 0.8)
    ]
    assert breaking_severity(points, tolerance=0.02, higher_is_better=True) == 3
