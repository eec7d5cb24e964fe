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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from evaluators.metrics.roc_auc import defined_columns


@dataclass(frozen=True)
class ScoreColumns:
    """A slice's ``k`` score columns, each fetched when asked (gathered from kept chunks): never all at once.

    Attributes:
        k: Columns.
        column: ``c -> (n,)`` scores of class ``c``, in the dtype they were kept in.
    """

    k: int
    column: Callable[[int], np.ndarray]


def _ranked_groups(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sort of one class's scores: each row's tie group, the positives' groups in ranked order, and rows per group.

    The sort need not be stable (rows tied on a score form one group and get its placement),
    nor the scores widened (float32 keeps order and ties): what follows is what a stable
    float64 sort gives, bit for bit. Groups are int32 below 2³¹ rows.
    """
    n = len(score)
    index = np.int32 if n < 2**31 else np.int64
    order = np.argsort(score).astype(index)
    ranked = score[order]
    new_group = np.ones(n, dtype=bool)
    np.not_equal(ranked[1:], ranked[:-1], out=new_group[1:])
    del ranked
    starts = np.flatnonzero(new_group)
    sizes = np.empty(len(starts), dtype=index)  # rows per group: np.diff(starts, append=n) without its copies
    np.subtract(starts[1:], starts[:-1], out=sizes[:-1])
    sizes[-1:] = n - starts[-1:]
    del starts
    group = np.cumsum(new_group, dtype=index)
    group -= 1
    del new_group
    positive_groups = group[positive[order]]  # in ranked order, as the AUC's mean takes them
    group_of_row = np.empty(n, dtype=index)
    group_of_row[order] = group
    return group_of_row, positive_groups, sizes


def _placements(positive: np.ndarray, score: Callable[[], np.ndarray], influence: np.ndarray) -> float:
    """One class's AUC from one sort of its scores (fetched by ``score()``, dropped once sorted); each row's
    influence on the AUC is added to ``influence``.

    Placements are per group (int32 counts and float64 placements: integers and halves until
    divided, exact in float64, so the order of these sums changes nothing) and gathered once
    per row. :func:`auc_influence` of 10 classes of distinct float32 scores peaks at 32 bytes per
    row, the influence it returns and the column it reads included (73 with a stable float64 sort
    and per-row temporaries in ranked order, before issue 18), its results the same bit for bit.
    """
    group_of_row, positive_groups, neg_in = _ranked_groups(positive, np.ascontiguousarray(score()))
    n, groups = len(group_of_row), len(neg_in)
    pos_in = np.bincount(positive_groups, minlength=groups).astype(neg_in.dtype)  # int32 below 2³¹ rows
    neg_in -= pos_in
    m, k = int(pos_in.sum()), int(neg_in.sum())
    v10 = neg_in.astype(np.float64)
    np.cumsum(v10, out=v10)  # 2·(negatives in this and lower groups) less this one's, halved
    v10 *= 2
    v10 -= neg_in
    v10 *= 0.5
    v10 /= k
    del neg_in
    v01 = pos_in.astype(np.float64)
    np.cumsum(v01, out=v01)  # 2·(positives in higher groups) plus this one's, halved
    v01 *= -2
    v01 += 2 * m
    v01 += pos_in
    v01 *= 0.5
    v01 /= m
    del pos_in
    auc = float(v10[positive_groups].mean())
    del positive_groups
    v01 -= auc
    v01 *= n
    v01 /= k
    v10 -= auc
    v10 *= n
    v10 /= m
    of_positives = v10[group_of_row[positive]]  # gathered before v01's: one group-sized array at a time
    del v10
    phi = v01[group_of_row]
    del v01, group_of_row
    phi[positive] = of_positives
    influence += phi
    return auc


def auc_influence(y_true: np.ndarray, scores: np.ndarray | ScoreColumns) -> tuple[float, np.ndarray]:
    """The (macro one-vs-rest) AUC and each row's influence ``(n,)``; ``se² = Σ (φ/n)²``.

    ``scores`` is ``(n, k)`` or :class:`ScoreColumns`, read one column at a time either way.
    Returns ``(nan, zeros)`` where no class's AUC is defined.
    """
    y_true = np.asarray(y_true)
    if y_true.dtype.kind not in "iu":
        y_true = y_true.astype(np.int64)
    columns = ScoreColumns(scores.shape[1], lambda c: scores[:, c]) if isinstance(scores, np.ndarray) else scores
    defined = defined_columns(y_true, columns.k)
    if not defined:
        return float("nan"), np.zeros(len(y_true))
    # One class at a time, summing influences as they come: k classes cost one row's worth, not k.
    aucs, influence = [], np.zeros(len(y_true))
    for c in defined:
        aucs.append(_placements(y_true == c, lambda: columns.column(c), influence))  # noqa: B023 (called at once)
    influence /= len(defined)
    return float(np.mean(aucs)), influence
