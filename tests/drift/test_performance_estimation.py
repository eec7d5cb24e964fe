"""Confidence-based estimation under a pure covariate shift with a calibrated model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from drift.performance_estimation import (
    compare_with_labels,
    estimate_performance,
    expected_confusion,
    macro_f1_from_confusion,
)
from suite.errors import DataError

WEIGHTS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])  # softmax(x @ W.T) is the true P(y | x)


def _window(n: int, centre: tuple[float, float], seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(centre, 1.0, size=(n, 2))
    logits = x @ WEIGHTS.T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return p, np.minimum(y, 2)


def test_macro_f1_from_a_hard_confusion_matches_sklearn():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    cm = confusion_matrix(y, pred).astype(float)
    assert macro_f1_from_confusion(cm) == pytest.approx(f1_score(y, pred, average="macro"))


def test_expected_confusion_sums_probabilities():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(expected_confusion(p), [[1.5, 0.2], [0.5, 0.8]])


@pytest.mark.parametrize("centre", [(0.0, 0.0), (1.5, -0.5), (-1.0, 1.5)])
def test_estimate_brackets_realised_metrics_under_covariate_shift(centre):
    accuracy_hits, f1_hits = [], []
    for seed in range(10):
        p, y = _window(3000, centre, seed)
        est = estimate_performance(p, seed=seed)
        check = compare_with_labels(est, y, p)
        assert check.accuracy == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
        accuracy_hits.append(check.accuracy_within)
        f1_hits.append(check.macro_f1_within)
        assert abs(est.accuracy - check.accuracy) < 0.03
    # 95% intervals for the realised value: an occasional miss over 10 windows, not more
    # (P(>= 3 misses) = 1.2% for a correct interval).
    assert sum(accuracy_hits) >= 8 and sum(f1_hits) >= 8


def test_concept_shift_is_caught_when_labels_arrive():
    p, y = _window(3000, (0.0, 0.0), seed=1)
    flipped = np.where(y == 1, 2, np.where(y == 2, 1, y))  # P(y | x) changed: classes 1 and 2 swapped
    check = compare_with_labels(estimate_performance(p), flipped, p)
    assert not check.accuracy_within and check.accuracy < check.accuracy_estimate - 0.1


def test_probabilities_must_sum_to_one():
    with pytest.raises(DataError, match="summing to 1"):
        estimate_performance(np.array([[0.5, 0.4]]))
