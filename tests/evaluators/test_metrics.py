"""Each metric agrees with scikit-learn (or a hand loop for ECE) through one shared checker."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from evaluators.metrics import METRICS, get_metric, metrics_for
from suite.errors import VigilError
from tests.evaluators.metric_checker import check_metric


def _labels(scores: np.ndarray) -> list[int]:
    return list(range(scores.shape[1]))


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    if p.shape[1] == 2:
        return sk.roc_auc_score(y, p[:, 1])
    if len(np.unique(y)) == p.shape[1]:
        return sk.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=_labels(p))
    # Documented choice: absent classes are left out of the macro mean.
    return float(np.mean([sk.roc_auc_score(y == c, p[:, c]) for c in np.unique(y)]))


def _ece_loop(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    confidence, predicted = p.max(axis=1), p.argmax(axis=1)
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            gap = abs((predicted[inside] == y[inside]).mean() - confidence[inside].mean())
            total += inside.mean() * gap
    return total


CLASSIFICATION = {
    "accuracy": lambda y, p: sk.accuracy_score(y, p.argmax(axis=1)),
    "macro_f1": lambda y, p: sk.f1_score(y, p.argmax(axis=1), average="macro", zero_division=0),
    "log_loss": lambda y, p: sk.log_loss(y, p, labels=_labels(p)),
    "roc_auc": _roc_auc,
    "ece": _ece_loop,
}
REGRESSION = {
    "mae": sk.mean_absolute_error,
    "rmse": sk.root_mean_squared_error,
    "r2": sk.r2_score,
}


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_classification_metric_matches_reference(name: str) -> None:
    check_metric(name, "classification", CLASSIFICATION[name])


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_metric_matches_sklearn(name: str) -> None:
    check_metric(name, "regression", REGRESSION[name])


def test_every_registered_metric_is_checked() -> None:
    assert set(METRICS.names()) == set(CLASSIFICATION) | set(REGRESSION)
    assert metrics_for("classification") == sorted(CLASSIFICATION)
    assert metrics_for("regression") == sorted(REGRESSION)


def test_log_loss_clips_like_sklearn() -> None:
    y = np.array([0, 1, 1])
    p = np.array([[1.0, 0.0], [1.0, 0.0], [0.3, 0.7]])
    assert get_metric("log_loss", "classification")(y, p) == pytest.approx(sk.log_loss(y, p, labels=[0, 1]))


def test_auc_with_one_class_is_nan() -> None:
    auc = get_metric("roc_auc", "classification")
    assert np.isnan(auc(np.array([1, 1, 1]), np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])))
    assert np.isnan(auc(np.full(4, 2), np.full((4, 3), 1 / 3)))


def test_r2_of_constant_truth_is_nan() -> None:
    assert np.isnan(get_metric("r2", "regression")(np.full(5, 2.0), np.arange(5.0)))


def test_empty_input_is_nan() -> None:
    for name in metrics_for("classification"):
        assert np.isnan(get_metric(name, "classification")(np.zeros(0, dtype=int), np.zeros((0, 3))))
    for name in metrics_for("regression"):
        assert np.isnan(get_metric(name, "regression")(np.zeros(0), np.zeros(0)))


def test_unknown_metric_suggests_nearest_name() -> None:
    with pytest.raises(VigilError, match=r"unknown metric 'acuracy'; did you mean 'accuracy'\?"):
        get_metric("acuracy", "classification")


def test_metric_for_other_task_is_refused() -> None:
    with pytest.raises(VigilError, match=r"metric 'mae': expected a classification metric"):
        get_metric("mae", "classification")
