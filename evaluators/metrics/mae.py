"""Mean absolute error of a regression."""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric, row_mean


def _abs_error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.abs(y_true.astype(np.float64) - y_pred)[:, None]


MAE = METRICS.register(
    "mae",
    Metric.from_row_sums(
        name="mae", task="regression", higher_is_better=False, version="1",
        rows=_abs_error, reduce=row_mean,
    ),
)
