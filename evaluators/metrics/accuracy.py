"""Accuracy: the share of rows whose arg-max class is the true class."""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric, row_mean, true_and_predicted


def _correct(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return (scores.argmax(axis=1) == y_true).astype(np.float64)[:, None]


ACCURACY = METRICS.register(
    "accuracy",
    Metric.from_row_sums(
        name="accuracy", task="classification", higher_is_better=True, version="1",
        rows=_correct, reduce=row_mean, cells=true_and_predicted,
    ),
)
