"""Area under the ROC curve.

Binary (two score columns): the AUC of the positive class (column 1).
Multiclass: the unweighted mean of one-vs-rest AUCs, as scikit-learn's
``roc_auc_score(multi_class="ovr", average="macro")``. A class whose
one-vs-rest AUC is undefined in a slice (absent, or the only class present) is
left out of the mean; with no defined class the value is NaN.

Each one-vs-rest AUC is the Mann-Whitney statistic: the weighted share of
(positive, negative) pairs ranked in order, ties counting one half. This
equals the trapezoidal area under scikit-learn's ROC curve and takes row
weights directly, so bootstrap resamples need one sort per class, not one per
resample.
"""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric, Resampled


def _one_vs_rest(positive: np.ndarray, score: np.ndarray) -> Resampled:
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    is_positive = positive[order]
    tie_starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    has_ties = len(tie_starts) < len(score)

    def values(counts: np.ndarray) -> np.ndarray:
        weights = counts[:, order]
        pos = weights * is_positive
        neg = weights - pos
        if has_ties:
            pos = np.add.reduceat(pos, tie_starts, axis=1)
            neg = np.add.reduceat(neg, tie_starts, axis=1)
        # Negatives strictly below each score group, plus half of those tied with it.
        below = np.cumsum(neg, axis=1) - 0.5 * neg
        pairs_in_order = np.einsum("bg,bg->b", pos, below)
        with np.errstate(divide="ignore", invalid="ignore"):
            return pairs_in_order / (pos.sum(axis=1) * neg.sum(axis=1))

    return values


def _prepare(y_true: np.ndarray, scores: np.ndarray) -> Resampled:
    k = scores.shape[1]
    present = np.bincount(y_true, minlength=k) if len(y_true) else np.zeros(k, dtype=np.int64)
    if k == 2:
        columns = [1] if present.all() else []
    else:
        columns = [c for c in range(k) if 0 < present[c] < len(y_true)]
    per_class = [_one_vs_rest(y_true == c, scores[:, c].astype(np.float64)) for c in columns]

    def values(counts: np.ndarray) -> np.ndarray:
        if not per_class:
            return np.full(len(counts), np.nan)
        aucs = np.stack([auc(counts) for auc in per_class])
        defined = ~np.isnan(aucs)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(defined, aucs, 0.0).sum(axis=0) / defined.sum(axis=0)

    return values


ROC_AUC = METRICS.register(
    "roc_auc",
    Metric.from_prepare(
        name="roc_auc", task="classification", higher_is_better=True, version="1", prepare=_prepare
    ),
)
