"""Expected misclassification cost: the mean cost of argmax predictions under a cost matrix.

Not registered by name: it needs the suite's ``costs`` matrix, so the suite
builds it with :func:`cost_metric` and scores it beside the registered metrics.

Example:
    >>> import numpy as np
    >>> metric = cost_metric(np.array([[0.0, 1.0], [10.0, 0.0]]))
    >>> metric(np.array([1, 0, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]))
    3.6666666666666665
"""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import Metric, true_and_predicted

NAME = "expected_cost"


def cost_metric(matrix: np.ndarray) -> Metric:
    """The expected-cost metric for a ``(k, k)`` matrix (rows true class, columns predicted); lower is better."""
    costs = np.asarray(matrix, dtype=np.float64)

    def rows(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return costs[np.asarray(y_true, dtype=np.int64), np.argmax(scores, axis=1)][:, None]

    def reduce(sums: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return np.where(weight > 0, sums[:, 0] / np.where(weight > 0, weight, 1), np.nan)

    return Metric.from_row_sums(name=NAME, task="classification", higher_is_better=False, version="1", rows=rows, reduce=reduce,
                               cells=true_and_predicted)
