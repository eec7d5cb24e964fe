"""Gate shapes beyond the suite's GateSpec: robustness, drift, and a misclassification cost.

The gate shapes live in ``suite.spec`` (the suite holds them); they are re-exported
here beside :func:`expected_cost`, which turns a cost matrix into a metric.
"""

from __future__ import annotations

import numpy as np

from evaluators.statistics import MetricFn
from suite.spec import CostSpec, DriftGate, RobustnessGate

__all__ = ["CostSpec", "DriftGate", "RobustnessGate", "expected_cost"]


def expected_cost(matrix: np.ndarray) -> MetricFn:
    """A metric giving the mean misclassification cost per example of argmax predictions.

    Args:
        matrix: ``(k, k)`` costs, rows true class, columns predicted class.

    Returns:
        ``fn(y_true, scores) -> float``; ``higher_is_better`` is False.
    """
    costs = np.asarray(matrix, dtype=float)

    def fn(y_true: np.ndarray, scores: np.ndarray) -> float:
        y = np.asarray(y_true, dtype=int)
        if len(y) == 0:
            return float("nan")
        predicted = np.argmax(np.asarray(scores), axis=1)
        return float(costs[y, predicted].mean())

    return fn
