"""ROC AUC's standard error from its influence function (DeLong et al., 1988): one sort per class.

For one class against the rest, a positive row's placement ``V10`` is the
share of negatives scoring below it (ties count half), a negative's ``V01`` the
share of positives scoring above it; the AUC is the mean placement of either
side. The AUC's influence of a row is ``(V10 - AUC) / p`` for a positive and
``(V01 - AUC) / q`` for a negative (``p``, ``q`` the class shares), which gives
DeLong's variance ``S10/m + S01/n`` (with divisors ``m`` and ``n`` in the
placements' variances, as the bootstrap has, where DeLong has ``m-1``, ``n-1``). The macro one-vs-rest mean averages the
classes' influences row by row, so the covariance between classes (every row
is a negative for all but one) is counted. The row bootstrap's variance tends
to the same value; the interval is ``AUC ± z·se``.

Example:
    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    >>> value, influence = auc_influence(y, scores)
    >>> value, round(float(np.sqrt(np.sum((influence / len(y)) ** 2))), 4)
    (0.75, 0.25)
"""

from __future__ import annotations

import numpy as np

from evaluators.metrics.roc_auc import defined_columns, placements


def _placements(positive: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray]:
    """One class's AUC and each row's influence on it, from one sort of the scores."""
    n = len(score)
    order, is_pos, v10, v01 = placements(positive, score)
    m = is_pos.sum()
    auc = float(v10[is_pos].mean())
    influence = np.empty(n)
    influence[order] = np.where(is_pos, (v10 - auc) * n / m, (v01 - auc) * n / (n - m))
    return auc, influence


def auc_influence(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
    """The (macro one-vs-rest) AUC and each row's influence ``(n,)``; ``se² = Σ (φ/n)²``.

    Returns ``(nan, zeros)`` where no class's AUC is defined.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    columns = defined_columns(y_true, scores.shape[1])
    if not columns:
        return float("nan"), np.zeros(len(y_true))
    parts = [_placements(y_true == c, np.asarray(scores[:, c], dtype=np.float64)) for c in columns]
    value = float(np.mean([auc for auc, _ in parts]))
    influence = np.mean([phi for _, phi in parts], axis=0)
    return value, influence
