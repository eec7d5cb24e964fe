"""Area under the ROC curve.

Binary (two score columns): the AUC of the positive class (column 1).
Multiclass: the unweighted mean of one-vs-rest AUCs, as scikit-learn's
``roc_auc_score(multi_class="ovr", average="macro")``. A class whose
one-vs-rest AUC is undefined in a slice (absent, or the only class present) is
left out of the mean; with no defined class the value is NaN.

Each one-vs-rest AUC is the Mann-Whitney statistic: the weighted share of
(positive, negative) pairs in order, ties counting one half; it equals the
trapezoidal area under scikit-learn's ROC curve. With ``W(x)`` the weight of
rows scoring below ``x`` plus half of those tied at ``x``, and positive tie
groups ``q`` of weight ``P_q``, the pairs in order number
``sum_q P_q W(s_q) - P²/2``. ``W`` at the groups comes from prefix sums of
row weights at a few boundaries per group, which for all classes and all
bootstrap resamples is one sparse-times-dense product.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sparse

from evaluators.metrics.base import METRICS, Metric, Resampled


class _OneVsRest:
    """Sparse rows that turn row weights into one class's AUC."""

    def __init__(self, positive: np.ndarray, score: np.ndarray) -> None:
        n = len(score)
        order = np.argsort(score, kind="stable")
        sorted_score = score[order]
        group_start = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
        group_end = np.r_[group_start[1:], n]
        group_of_rank = np.repeat(np.arange(len(group_start)), np.diff(np.r_[group_start, n]))
        group_of_row = np.empty(n, dtype=np.int64)
        group_of_row[order] = group_of_rank
        positive_rows = np.flatnonzero(positive)
        groups, positive_group = np.unique(group_of_row[positive_rows], return_inverse=True)
        # Prefix sums are needed at each positive group's start and end (rank n is the total).
        cuts = np.unique(np.r_[0, group_start[groups], group_end[groups]])
        inner = cuts[cuts < n]
        segment_of_rank = np.searchsorted(inner, np.arange(n), side="right") - 1
        self.segments = sparse.csr_matrix(
            (np.ones(n), (segment_of_rank[np.argsort(order)], np.arange(n))), shape=(len(inner), n)
        )
        self.positives = sparse.csr_matrix(
            (np.ones(len(positive_rows)), (positive_group, positive_rows)), shape=(len(groups), n)
        )
        self.start_cut = np.searchsorted(cuts, group_start[groups])
        self.end_cut = np.searchsorted(cuts, group_end[groups])

    def auc(self, segment_sums: np.ndarray, positive_sums: np.ndarray) -> np.ndarray:
        """AUC per resample from ``(segments, B)`` and ``(positive groups, B)`` weight sums."""
        prefix = np.vstack([np.zeros((1, segment_sums.shape[1])), np.cumsum(segment_sums, axis=0)])
        midrank = 0.5 * (prefix[self.start_cut] + prefix[self.end_cut])
        positive = positive_sums.sum(axis=0)
        negative = prefix[-1] - positive
        in_order = np.einsum("qb,qb->b", positive_sums, midrank) - 0.5 * positive**2
        with np.errstate(divide="ignore", invalid="ignore"):
            return in_order / (positive * negative)


def placements(positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One sort of one class's scores: the sort order, which sorted rows are positive, and their placements.

    A positive's placement ``V10`` is the share of negatives scoring below it, a negative's ``V01`` the share
    of positives scoring above it (ties count half); the AUC is the mean ``V10`` of the positives. Both
    classes must occur.
    """
    n = len(score)
    order = np.argsort(score)  # ties form one group below, so the sort need not be stable
    ranked = score[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))
    is_pos = positive[order]
    pos_in = np.bincount(group, weights=is_pos, minlength=len(starts))
    neg_in = np.bincount(group, minlength=len(starts)) - pos_in
    m, k = pos_in.sum(), neg_in.sum()
    v10 = (np.cumsum(neg_in) - 0.5 * neg_in)[group] / k  # negatives in lower tie groups, half of those tied
    v01 = (m - np.cumsum(pos_in) + 0.5 * pos_in)[group] / m  # positives in higher tie groups, half of those tied
    return order, is_pos, v10, v01


def roc_auc_value(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The AUC (macro one-vs-rest for more than two columns) from one sort per class; NaN where undefined."""
    y_true = np.asarray(y_true, dtype=np.int64)
    aucs = [float(v10[is_pos].mean()) for c in defined_columns(y_true, scores.shape[1])
            for _, is_pos, v10, _ in [placements(y_true == c, np.asarray(scores[:, c], dtype=np.float64))]]
    return float(np.mean(aucs)) if aucs else float("nan")


def defined_columns(y_true: np.ndarray, k: int) -> list[int]:
    """Score columns whose one-vs-rest AUC is defined: column 1 of a binary model with both classes present,
    else each class present but not alone."""
    present = np.bincount(y_true, minlength=k)
    if k == 2:
        return [1] if present.all() else []
    return [c for c in range(k) if 0 < present[c] < len(y_true)]


def _prepare(y_true: np.ndarray, scores: np.ndarray) -> Resampled:
    columns = defined_columns(y_true, scores.shape[1])
    parts = [_OneVsRest(y_true == c, scores[:, c].astype(np.float64)) for c in columns]
    if not parts:
        return lambda counts: np.full(len(counts), np.nan)
    stacked = sparse.vstack([m for p in parts for m in (p.segments, p.positives)]).tocsr()
    splits = np.cumsum([m.shape[0] for p in parts for m in (p.segments, p.positives)])[:-1]

    def values(counts: np.ndarray) -> np.ndarray:
        # counts.T is C-ordered for counts from resample_counts: rows stay contiguous.
        sums = np.split(stacked @ counts.T, splits)
        aucs = np.stack([p.auc(sums[2 * i], sums[2 * i + 1]) for i, p in enumerate(parts)])
        defined = ~np.isnan(aucs)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(defined, aucs, 0.0).sum(axis=0) / defined.sum(axis=0)

    return values


ROC_AUC = METRICS.register(
    "roc_auc",
    replace(Metric.from_prepare(
        name="roc_auc", task="classification", higher_is_better=True, version="1", prepare=_prepare
    ), fn=lambda y, s: roc_auc_value(y, s) if len(y) else float("nan"),  # one sort per class, not the resampling matrices
        across_classes=True, interval_kind="delong"),  # one true class in a slice: no second class to compare against
)
