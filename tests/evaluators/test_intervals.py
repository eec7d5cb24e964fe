"""Intervals from sufficient statistics agree with the exact row bootstrap, and large slices use them.

The reference is the exact row bootstrap (:func:`evaluators.bootstrap.percentile_cis`,
resampled rows) on seeded simulations at 25,000 rows with 1,500 resamples; the
fast methods take 20,000 draws (they cost nothing per row), so the comparison's
Monte-Carlo noise is the reference's, about 0.07 standard errors per endpoint.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from evaluators.bootstrap import derive_seed, percentile_cis
from evaluators.intervals import BOOTSTRAP, CELLS, DELONG, EXACT_MAX_ROWS, NORMAL_SUMS, fast_interval, interval_method
from evaluators.intervals.cells import CellTable
from evaluators.intervals.moments import RowMoments
from evaluators.metrics import get_metric
from evaluators.metrics.base import Metric
from evaluators.metrics.expected_cost import cost_metric
from evaluators.scoring import score_predictions
from suite.spec import BootstrapSpec

N, EXACT_B, FAST_B = 25_000, 1_500, 20_000
#: Absolute tolerance on endpoints of metrics in [0, 1].
UNIT_TOLERANCE = 0.001
#: Unbounded metrics (log loss, cost, MAE, RMSE): endpoints within 0.1% relative plus 0.001
#: absolute (the reference's own Monte-Carlo error is ~0.0003 for a cost near 0.25).
RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 0.001, 0.001
#: R² at these sizes has a half-width near 0.02; its endpoints agree to within this.
R2_TOLERANCE = 0.002


def classification(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced classes (the first holds 60%), informative scores rounded to 0.01 so AUC sees ties."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))])
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p = np.clip(np.round(p, 2), 1e-3, None)
    return y, p / p.sum(axis=1, keepdims=True)


def exact_and_fast(metrics: list[Metric], y: np.ndarray, scores: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    exact = percentile_cis([m.resampled(y, scores) for m in metrics], len(y), resamples=EXACT_B, confidence=0.95, seed=1)
    fast = [fast_interval(m, y, scores, resamples=FAST_B, confidence=0.95, seed=2) for m in metrics]
    return list(zip(exact, fast))


@pytest.mark.parametrize("k", [2, 10])
def test_classification_intervals_agree_with_the_row_bootstrap(k: int) -> None:
    y, p = classification(N, k, seed=k)
    costs = np.random.default_rng(0).uniform(1, 5, (k, k)) * (1 - np.eye(k))
    names = ["accuracy", "macro_f1", "ece", "roc_auc", "log_loss"]
    metrics = [get_metric(name, "classification") for name in names] + [cost_metric(costs)]
    methods = [interval_method(m, N) for m in metrics]
    assert methods == [CELLS, CELLS, NORMAL_SUMS, DELONG, NORMAL_SUMS, CELLS]
    for metric, (exact, fast) in zip(metrics, exact_and_fast(metrics, y, p)):
        value = metric(y, p)
        assert fast[0] < value < fast[1], metric.name
        if metric.name in ("log_loss", "expected_cost"):
            np.testing.assert_allclose(fast, exact, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE, err_msg=metric.name)
        else:
            np.testing.assert_allclose(fast, exact, atol=UNIT_TOLERANCE, rtol=0, err_msg=metric.name)


@pytest.mark.parametrize("noise", ["normal", "student-t(3)"])
def test_regression_intervals_agree_with_the_row_bootstrap(noise: str) -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=N)
    pred = 0.8 * y + (rng.normal(size=N) if noise == "normal" else rng.standard_t(3, size=N))
    metrics = [get_metric(name, "regression") for name in ("mae", "rmse", "r2")]
    for metric, (exact, fast) in zip(metrics, exact_and_fast(metrics, y, pred)):
        if metric.name == "r2":
            np.testing.assert_allclose(fast, exact, atol=R2_TOLERANCE * (1 if noise == "normal" else 5), rtol=0)
        else:
            # Student-t(3) squared errors have no fourth moment; the skew correction
            # still keeps RMSE within 0.1% (without it the low end was 2.5% off).
            np.testing.assert_allclose(fast, exact, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE, err_msg=metric.name)


def test_heavy_tailed_log_loss_keeps_the_bootstrap_skew() -> None:
    """30 of 25,000 rows with log loss 30: the resampled mean is right-skewed; the interval follows it."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, N)
    p1 = np.clip(rng.beta(4, 2, N), 0.01, 0.99)
    p = np.where(y[:, None] == 1, np.c_[1 - p1, p1], np.c_[p1, 1 - p1])
    wrong = rng.choice(N, 30, replace=False)
    p[wrong, y[wrong]], p[wrong, 1 - y[wrong]] = 1e-13, 1 - 1e-13
    metric = get_metric("log_loss", "classification")
    [(exact, fast)] = exact_and_fast([metric], y, p)
    value = metric(y, p)
    assert fast[1] - value > value - fast[0]  # skewed like the bootstrap, not symmetric like a plain normal
    np.testing.assert_allclose(fast, exact, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE)


def test_cell_table_resamples_are_the_exact_bootstrap_distribution() -> None:
    """Mean and variance of resampled cell counts are those of the row bootstrap (multinomial)."""
    codes = np.array([0, 0, 0, 2, 2, 5])
    table = CellTable.of(codes, np.eye(6)[codes])
    sums = table.resampled_sums(40_000, np.random.default_rng(0))
    share = np.array([3, 2, 1]) / 6
    np.testing.assert_allclose(sums[:, [0, 2, 5]].mean(axis=0), 6 * share, rtol=0.01)
    np.testing.assert_allclose(sums[:, [0, 2, 5]].var(axis=0), 6 * share * (1 - share), rtol=0.03)


def test_accumulators_merge_to_the_whole() -> None:
    rng = np.random.default_rng(3)
    rows = rng.exponential(size=(1000, 3))
    codes = rng.integers(0, 7, 1000)
    parts = [RowMoments.of(rows[:10]), RowMoments.of(rows[10:600]), RowMoments.of(rows[600:])]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    whole = RowMoments.of(rows)
    np.testing.assert_allclose(merged.mean, whole.mean)
    np.testing.assert_allclose(merged.covariance(), whole.covariance())
    cells = np.eye(7)[codes]
    table, whole_table = CellTable.of(codes[:300], cells[:300]).add(codes[300:], cells[300:]), CellTable.of(codes, cells)
    for got, expected in [(table.codes, whole_table.codes), (table.counts, whole_table.counts), (table.stats, whole_table.stats)]:
        np.testing.assert_array_equal(got, expected)


def _refusing(metric: Metric) -> Metric:
    """The metric with its row-resampling path replaced by an error: a call means O(n·B) work."""

    def refuse(y: np.ndarray, scores: np.ndarray):  # type: ignore[no-untyped-def]
        raise AssertionError(f"{metric.name}: rows were resampled above EXACT_MAX_ROWS")

    return replace(metric, prepare=refuse)


def test_large_slices_never_resample_rows_and_small_ones_do() -> None:
    y, p = classification(EXACT_MAX_ROWS + 1, 3, seed=1)
    names = ["accuracy", "macro_f1", "ece", "roc_auc", "log_loss"]
    refusing = [_refusing(get_metric(name, "classification")) for name in names]
    spec = BootstrapSpec(resamples=1000)
    results = score_predictions(y, p, task="classification", metric_names=[], masks={"all": np.ones(len(y), bool)},
                                bootstrap=spec, seed=0, extra_metrics=refusing)
    assert [r.ci_method for r in results] == [CELLS, CELLS, NORMAL_SUMS, DELONG, NORMAL_SUMS]
    assert all(r.ci_low < r.value < r.ci_high for r in results)
    small = {"small": np.arange(len(y)) < EXACT_MAX_ROWS}
    with pytest.raises(AssertionError, match="rows were resampled"):
        score_predictions(y, p, task="classification", metric_names=[], masks=small, bootstrap=spec, seed=0,
                          extra_metrics=refusing[:1])


def test_small_slices_are_bit_identical_to_the_exact_bootstrap() -> None:
    y, p = classification(3000, 4, seed=2)
    masks = {"all": np.ones(len(y), bool), "label=1": y == 1}
    kwargs = dict(task="classification", metric_names=["accuracy", "roc_auc", "ece"], masks=masks,
                  bootstrap=BootstrapSpec(resamples=200), seed=4)
    default = score_predictions(y, p, **kwargs)  # type: ignore[arg-type]
    forced = score_predictions(y, p, exact_max_rows=10**9, **kwargs)  # type: ignore[arg-type]
    assert repr(default) == repr(forced)  # repr: NaN equals NaN, and floats print exactly
    assert {r.ci_method for r in default} == {BOOTSTRAP}
    low, high = percentile_cis([get_metric("accuracy", "classification").resampled(y, p)], len(y), resamples=200,
                               confidence=0.95, seed=derive_seed(4, "all"))[0]
    assert (default[0].ci_low, default[0].ci_high) == (low, high)


def test_one_class_and_empty_slices_above_the_threshold() -> None:
    y, p = classification(400, 3, seed=3)
    masks = {"label=0": y == 0, "empty": np.zeros(len(y), bool)}
    results = score_predictions(y, p, task="classification", metric_names=["accuracy", "roc_auc", "macro_f1"],
                                masks=masks, bootstrap=BootstrapSpec(resamples=300), seed=0, exact_max_rows=10)
    by_key = {(r.slice, r.metric): r for r in results}
    auc = by_key["label=0", "roc_auc"]
    assert auc.ci_method == DELONG and np.isnan(auc.value) and np.isnan(auc.ci_low) and np.isnan(auc.ci_high)
    accuracy = by_key["label=0", "accuracy"]
    assert accuracy.ci_method == CELLS and accuracy.ci_low <= accuracy.value <= accuracy.ci_high
    empty = by_key["empty", "accuracy"]
    assert empty.n == 0 and empty.ci_method == BOOTSTRAP and np.isnan(empty.value) and np.isnan(empty.ci_low)


def test_a_metric_without_sufficient_statistics_keeps_the_row_bootstrap() -> None:
    auc = get_metric("roc_auc", "classification")
    plain = Metric(name="plain", task="classification", higher_is_better=True, version="1", fn=auc.fn)
    assert interval_method(plain, 10**6) == BOOTSTRAP
    with pytest.raises(ValueError, match="expected a row-sum or AUC metric"):
        fast_interval(plain, *classification(100, 2, seed=0), resamples=10, confidence=0.95, seed=0)
