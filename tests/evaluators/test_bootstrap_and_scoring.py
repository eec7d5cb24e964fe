"""Bootstrap intervals are seeded percentile intervals; scoring assembles them per slice."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.bootstrap import bootstrap_ci, derive_seed
from evaluators.metrics import get_metric
from evaluators.scoring import score_predictions
from suite.errors import DataError
from suite.spec import BootstrapSpec
from tests.evaluators.metric_checker import classification_cases


def _multiclass() -> tuple[np.ndarray, np.ndarray]:
    _, y, p = classification_cases()[1]
    return y, p


@pytest.mark.parametrize("name", ["accuracy", "roc_auc", "log_loss"])
def test_interval_contains_value_and_repeats_per_seed(name: str) -> None:
    y, p = _multiclass()
    metric = get_metric(name, "classification")
    ci = bootstrap_ci(metric, y, p, resamples=300, confidence=0.95, seed=7)
    assert ci[0] < metric(y, p) < ci[1]
    assert bootstrap_ci(metric, y, p, resamples=300, confidence=0.95, seed=7) == ci
    assert bootstrap_ci(metric, y, p, resamples=300, confidence=0.95, seed=8) != ci


def test_interval_is_the_percentile_of_explicit_resamples() -> None:
    y, p = _multiclass()
    metric = get_metric("accuracy", "classification")
    rng = np.random.default_rng(3)
    draws = [metric(y[i], p[i]) for i in rng.integers(0, len(y), size=(2000, len(y)))]
    expected = np.quantile(draws, [0.05, 0.95])
    # Independent resamples: the two intervals agree to within Monte-Carlo noise.
    np.testing.assert_allclose(bootstrap_ci(metric, y, p, resamples=2000, confidence=0.9, seed=3), expected, atol=0.01)


def test_scoring_gives_value_interval_and_n_per_slice_and_metric() -> None:
    y, p = _multiclass()
    masks = {"all": np.ones(len(y), dtype=bool), "label=0": y == 0, "empty": np.zeros(len(y), dtype=bool)}
    spec = BootstrapSpec(resamples=200, confidence=0.95)
    results = score_predictions(
        y, p, task="classification", metric_names=["accuracy", "roc_auc"], masks=masks, bootstrap=spec, seed=5
    )
    assert [(r.slice, r.metric) for r in results] == [
        (s, m) for s in masks for m in ["accuracy", "roc_auc"]
    ]
    by_key = {(r.slice, r.metric): r for r in results}
    first = by_key["all", "roc_auc"]
    assert first.n == len(y) and first.metric_version == "1"
    assert first.value == get_metric("roc_auc", "classification")(y, p)
    expected_ci = bootstrap_ci(
        get_metric("roc_auc", "classification"), y, p, resamples=200, confidence=0.95, seed=derive_seed(5, "all")
    )
    assert (first.ci_low, first.ci_high) == expected_ci
    only_zero = by_key["label=0", "accuracy"]
    assert only_zero.n == int((y == 0).sum())
    assert only_zero.value == pytest.approx((p[y == 0].argmax(axis=1) == 0).mean())
    assert np.isnan(by_key["label=0", "roc_auc"].value) and np.isnan(by_key["label=0", "roc_auc"].ci_low)
    assert by_key["empty", "accuracy"].n == 0 and np.isnan(by_key["empty", "accuracy"].value)


def test_scoring_does_not_depend_on_order() -> None:
    y, p = _multiclass()
    masks = {"all": np.ones(len(y), dtype=bool), "label=1": y == 1}
    spec = BootstrapSpec(resamples=100)
    kwargs = dict(task="classification", bootstrap=spec, seed=0)
    forward = score_predictions(y, p, metric_names=["accuracy", "ece"], masks=masks, **kwargs)
    backward = score_predictions(
        y, p, metric_names=["ece"], masks=dict(reversed(list(masks.items()))), **kwargs
    )
    assert {(r.slice, r.metric): r for r in forward if r.metric == "ece"} == {(r.slice, r.metric): r for r in backward}


def test_scoring_regression() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=120)
    results = score_predictions(
        y, y + 0.1 * rng.normal(size=120), task="regression", metric_names=["rmse", "r2"],
        masks={"all": np.ones(120, dtype=bool)}, bootstrap=BootstrapSpec(resamples=100), seed=0,
    )
    assert all(r.ci_low <= r.value <= r.ci_high for r in results)


def test_scoring_rejects_labels_out_of_range() -> None:
    with pytest.raises(DataError, match=r"expected integer labels in 0\.\.1, got int64 in \[0, 2\]"):
        score_predictions(
            np.array([0, 2]), np.full((2, 2), 0.5), task="classification", metric_names=["accuracy"],
            masks={"all": np.ones(2, dtype=bool)}, bootstrap=BootstrapSpec(resamples=10), seed=0,
        )
