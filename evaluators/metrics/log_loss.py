"""Log loss: mean negative log probability of the true class.

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps`` the machine
epsilon of the scores' dtype, as scikit-learn does; rows are not renormalised.
"""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric, row_mean


def _nll(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    eps = np.finfo(scores.dtype if scores.dtype.kind == "f" else np.float64).eps
    p_true = np.clip(scores[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return -np.log(p_true.astype(np.float64))[:, None]


LOG_LOSS = METRICS.register(
    "log_loss",
    Metric.from_row_sums(
        name="log_loss", task="classification", higher_is_better=False, version="1",
        rows=_nll, reduce=row_mean,
    ),
)
