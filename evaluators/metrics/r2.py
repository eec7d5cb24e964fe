"""Coefficient of determination R² = 1 - SS_res / SS_tot.

Undefined, hence NaN, when ``y_true`` is constant (SS_tot = 0) or empty.
scikit-learn's ``r2_score`` returns 1.0 or 0.0 there by default
(``force_finite=True``); NaN keeps a degenerate slice from passing a gate.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from evaluators.metrics.base import METRICS, Metric

# Below this share of the raw sum of squares, SS_tot is rounding noise.
_RELATIVE_ZERO = 1e-12


def _residual_and_moments(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    y = y_true.astype(np.float64)
    # Centring first keeps sum(y²) - sum(y)²/n free of cancellation.
    centred = y - y.mean() if len(y) else y
    return np.column_stack([np.square(y - y_pred), centred, np.square(centred)])


def _r2(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    ss_res, s1, s2 = sums[:, 0], sums[:, 1], sums[:, 2]
    ss_tot = s2 - np.square(s1) / total
    defined = ss_tot > _RELATIVE_ZERO * s2
    return np.where(defined, 1.0 - ss_res / np.where(defined, ss_tot, 1.0), np.nan)


R2 = METRICS.register(
    "r2",
    replace(Metric.from_row_sums(
        name="r2", task="regression", higher_is_better=True, version="1",
        rows=_residual_and_moments, reduce=_r2,
    ), rows_need_all=True),  # rows centred on the batch's mean
)
