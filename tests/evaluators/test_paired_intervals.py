"""Paired differences above EXACT_MAX_ROWS agree with the paired row bootstrap and skip its B metric calls.

The reference is the exact paired row bootstrap, vectorised: one set of row
multiplicities per resample scores both models (:meth:`Metric.resampled`),
the same distribution as :func:`paired_bootstrap_diff`'s loop at a fraction of
its cost; a small case checks against the loop itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from evaluators.bootstrap import resample_counts
from evaluators.intervals import BOOTSTRAP, CELLS, DELONG, EXACT_MAX_ROWS, NORMAL_SUMS
from evaluators.metrics import get_metric
from evaluators.metrics.base import Metric
from evaluators.statistics import paired_bootstrap_diff

N, EXACT_B, FAST_B = 25_000, 1_500, 20_000


def two_models(n: int, k: int, seed: int, gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two correlated models; ``gap`` shrinks b's signal, so a - b grows with it."""
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=np.r_[0.5, np.full(k - 1, 0.5 / (k - 1))])
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    other = logits + rng.normal(scale=0.6, size=(n, k))
    other[np.arange(n), y] -= gap

    def probabilities(z: np.ndarray) -> np.ndarray:
        p = np.clip(np.round(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), 2), 1e-3, None)  # ties for AUC
        return p / p.sum(axis=1, keepdims=True)

    return y, probabilities(logits), probabilities(other)


def exact_paired(metric: Metric, y: np.ndarray, a: np.ndarray, b: np.ndarray, resamples: int) -> np.ndarray:
    score_a, score_b = metric.resampled(y, a), metric.resampled(y, b)
    return np.concatenate([score_a(c) - score_b(c) for c in resample_counts(len(y), resamples, seed=11)])


@pytest.mark.parametrize(("k", "gap"), [(2, 0.3), (10, 0.0)])
def test_paired_differences_agree_with_the_paired_row_bootstrap(k: int, gap: float) -> None:
    y, a, b = two_models(N, k, seed=k, gap=gap)
    expected = {"accuracy": CELLS, "macro_f1": CELLS, "roc_auc": DELONG, "log_loss": NORMAL_SUMS, "ece": NORMAL_SUMS}
    for name, method in expected.items():
        metric = get_metric(name, "classification")
        fast = paired_bootstrap_diff(metric, y, a, b, resamples=FAST_B, seed=2)
        draws = exact_paired(metric, y, a, b, EXACT_B)
        assert fast.method == method and fast.n == N
        assert fast.diff == pytest.approx(metric(y, a) - metric(y, b), abs=1e-12)
        tolerance = 0.001 + 0.001 * abs(fast.diff)
        np.testing.assert_allclose([fast.ci_low, fast.ci_high], np.quantile(draws, [0.025, 0.975]), atol=tolerance,
                                   rtol=0, err_msg=name)
        assert fast.se == pytest.approx(np.std(draws, ddof=1), rel=0.08), name
        null = draws - fast.diff
        p_two = (1 + np.sum(np.abs(null) >= abs(fast.diff))) / (len(draws) + 1)
        assert fast.p_value == pytest.approx(p_two, abs=0.05), name


def test_large_sample_path_matches_the_loop_it_replaces() -> None:
    """At 3,000 rows with the threshold lowered, against :func:`paired_bootstrap_diff`'s own loop."""
    y, a, b = two_models(3000, 3, seed=1, gap=0.2)
    for name in ("accuracy", "log_loss"):
        metric = get_metric(name, "classification")
        loop = paired_bootstrap_diff(metric, y, a, b, resamples=500, seed=0, exact_max_rows=10**9)
        fast = paired_bootstrap_diff(metric, y, a, b, resamples=500, seed=0, exact_max_rows=1000)
        assert loop.method == BOOTSTRAP and fast.method != BOOTSTRAP
        assert fast.diff == loop.diff
        assert fast.se == pytest.approx(loop.se, rel=0.15), name
        assert abs(fast.ci_low - loop.ci_low) < 0.6 * loop.se and abs(fast.ci_high - loop.ci_high) < 0.6 * loop.se, name


def test_the_fast_path_calls_the_metric_once_per_model_not_per_resample() -> None:
    y, a, b = two_models(EXACT_MAX_ROWS + 1, 2, seed=3, gap=0.1)
    calls = []
    accuracy = get_metric("accuracy", "classification")

    def counted(y_true: np.ndarray, scores: np.ndarray) -> float:
        calls.append(len(y_true))
        return accuracy.fn(y_true, scores)

    metric = replace(accuracy, fn=counted)
    assert paired_bootstrap_diff(metric, y, a, b, resamples=1000, seed=0).method == CELLS
    assert len(calls) == 2
    calls.clear()
    small = EXACT_MAX_ROWS // 100
    paired_bootstrap_diff(metric, y[:small], a[:small], b[:small], resamples=50, seed=0)
    assert len(calls) == 2 + 2 * 50  # below the threshold: the loop, unchanged


def test_a_plain_function_and_identical_models_keep_their_answers() -> None:
    y, a, _ = two_models(EXACT_MAX_ROWS + 1, 2, seed=4, gap=0.0)
    plain = paired_bootstrap_diff(lambda t, s: float(np.mean(s.argmax(axis=1) == t)), y[:500], a[:500], a[:500],
                                  resamples=20, seed=0)
    assert plain.method == BOOTSTRAP and plain.diff == 0.0
    for name in ("accuracy", "log_loss", "roc_auc"):
        same = paired_bootstrap_diff(get_metric(name, "classification"), y, a, a, resamples=200, seed=0)
        assert same.diff == 0.0 and same.ci_low == pytest.approx(0.0, abs=1e-12), name
        assert same.ci_high == pytest.approx(0.0, abs=1e-12) and same.p_value == 1.0, name
