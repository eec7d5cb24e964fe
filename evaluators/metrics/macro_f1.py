"""Macro F1: the unweighted mean of per-class F1 over the classes that occur.

As scikit-learn's ``f1_score(average="macro")`` without ``labels``, the mean
runs over classes present in the true or the predicted labels; a class that is
predicted but never true (or the reverse) scores 0. Per class,
``F1 = 2·TP / (predicted + true)``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from evaluators.metrics.base import METRICS, Metric, one_hot, true_and_predicted


def _tp_predicted_true(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    k = scores.shape[1]
    predicted = one_hot(scores.argmax(axis=1), k)
    true = one_hot(y_true, k)
    return np.hstack([true * predicted, predicted, true])


def _macro_f1(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    tp, predicted, true = np.split(sums, 3, axis=1)
    support = predicted + true
    occurs = support > 0
    f1 = np.where(occurs, 2 * tp / np.where(occurs, support, 1), 0.0)
    return f1.sum(axis=1) / occurs.sum(axis=1)


MACRO_F1 = METRICS.register(
    "macro_f1",
    replace(Metric.from_row_sums(
        name="macro_f1", task="classification", higher_is_better=True, version="1",
        rows=_tp_predicted_true, reduce=_macro_f1, cells=true_and_predicted,
    ), across_classes=True),  # one true class in a slice: no second class to compare against
)
