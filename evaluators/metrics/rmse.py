"""Root mean squared error of a regression."""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric


def _squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.square(y_true.astype(np.float64) - y_pred)[:, None]


def _root_mean(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.sqrt(sums[:, 0] / total)


RMSE = METRICS.register(
    "rmse",
    Metric.from_row_sums(
        name="rmse", task="regression", higher_is_better=False, version="1",
        rows=_squared_error, reduce=_root_mean,
    ),
)
