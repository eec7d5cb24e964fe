"""Paired bootstrap against scipy, exact McNemar against hand-computed tables, Holm against hand values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evaluators.statistics import holm, mcnemar_exact, paired_bootstrap_diff


def log_loss(y: np.ndarray, scores: np.ndarray) -> float:
    return float(-np.mean(np.log(scores[np.arange(len(y)), y])))


def accuracy(y: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == y))


def binary_models(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.2, n), 0.01, 0.99)
    b = np.clip(np.where(y == 1, 0.62, 0.38) + rng.normal(0, 0.2, n), 0.01, 0.99)
    return y, np.column_stack([1 - a, a]), np.column_stack([1 - b, b])


def test_paired_bootstrap_ci_agrees_with_scipy_paired_percentile() -> None:
    y, sa, sb = binary_models(300)

    def statistic(y_: np.ndarray, a1: np.ndarray, b1: np.ndarray) -> float:
        y_ = y_.astype(int)
        return log_loss(y_, np.column_stack([1 - a1, a1])) - log_loss(y_, np.column_stack([1 - b1, b1]))

    ours = paired_bootstrap_diff(log_loss, y, sa, sb, resamples=4000, confidence=0.9, seed=3)
    ref = stats.bootstrap(
        (y, sa[:, 1], sb[:, 1]), statistic, paired=True, vectorized=False, method="percentile",
        n_resamples=4000, confidence_level=0.9, random_state=11,
    )
    assert ours.diff == pytest.approx(log_loss(y, sa) - log_loss(y, sb))
    # Monte-Carlo error of a 5% / 95% percentile with 4000 resamples is ~0.03 SE each;
    # the difference of two independent estimates stays well inside 0.3 SE.
    tolerance = 0.3 * ref.standard_error
    assert ours.ci_low == pytest.approx(ref.confidence_interval.low, abs=tolerance)
    assert ours.ci_high == pytest.approx(ref.confidence_interval.high, abs=tolerance)
    assert ours.se == pytest.approx(ref.standard_error, rel=0.1)
    assert ours.n == 300


def test_pairing_is_what_narrows_the_interval() -> None:
    """Resampling the same examples for both models beats resampling them independently."""
    y, sa, _ = binary_models(300)
    sb = sa.copy()
    sb[:5] = sb[:5][:, ::-1]  # b differs from a on only five examples
    paired = paired_bootstrap_diff(log_loss, y, sa, sb, resamples=500, seed=0)
    rng = np.random.default_rng(0)
    unpaired = []
    for _ in range(500):
        i, j = rng.integers(0, 300, 300), rng.integers(0, 300, 300)
        unpaired.append(log_loss(y[i], sa[i]) - log_loss(y[j], sb[j]))
    assert paired.ci_high - paired.ci_low < 0.5 * (np.quantile(unpaired, 0.975) - np.quantile(unpaired, 0.025))


def test_p_values_separate_real_from_null_differences() -> None:
    y, sa, sb = binary_models(600)
    real = paired_bootstrap_diff(log_loss, y, sa, sb, resamples=1000, seed=0)
    assert real.diff < 0 and real.ci_high < 0
    assert real.p_value < 0.01 and real.p_less < 0.01 and real.p_greater > 0.9
    same = paired_bootstrap_diff(accuracy, y, sa, sa, resamples=200, seed=0)
    assert same.diff == 0.0 and same.p_value == 1.0


def test_same_seed_same_result_other_seed_other_draws() -> None:
    y, sa, sb = binary_models(100)
    first = paired_bootstrap_diff(log_loss, y, sa, sb, resamples=300, seed=5)
    assert paired_bootstrap_diff(log_loss, y, sa, sb, resamples=300, seed=5) == first
    assert paired_bootstrap_diff(log_loss, y, sa, sb, resamples=300, seed=6).ci_low != first.ci_low


def test_unequal_lengths_are_refused() -> None:
    y, sa, sb = binary_models(10)
    with pytest.raises(ValueError, match="equal length"):
        paired_bootstrap_diff(log_loss, y, sa, sb[:9])


def table(both: int, a_only: int, b_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * both + [1] * a_only + [0] * b_only + [0] * neither, bool)
    b = np.array([1] * both + [0] * a_only + [1] * b_only + [0] * neither, bool)
    return a, b


def test_mcnemar_matches_hand_computed_table() -> None:
    a, b = table(both=50, a_only=8, b_only=2, neither=10)
    result = mcnemar_exact(a, b)
    assert (result.b, result.c) == (8, 2)
    # Two-sided: 2·P[X ≤ 2], X ~ Bin(10, ½) = 2·(1 + 10 + 45)/1024.
    assert result.p_value == pytest.approx(112 / 1024)
    # a worse than b: P[X ≥ 2] = 1 − (1 + 10)/1024.
    assert result.p_a_worse == pytest.approx(1013 / 1024)
    swapped = mcnemar_exact(b, a)
    assert swapped.p_a_worse == pytest.approx(56 / 1024)
    assert swapped.p_value == pytest.approx(result.p_value)


def test_mcnemar_agrees_with_scipy_binomtest_and_handles_no_discord() -> None:
    a, b = table(both=30, a_only=4, b_only=13, neither=3)
    assert mcnemar_exact(a, b).p_value == pytest.approx(stats.binomtest(4, 17, 0.5).pvalue)
    assert mcnemar_exact(a, a).p_value == 1.0
    balanced = mcnemar_exact(*table(both=5, a_only=3, b_only=3, neither=0))
    assert balanced.p_value == 1.0  # 2·P[X ≤ 3] > 1 for Bin(6, ½): capped


def test_holm_hand_computed() -> None:
    # sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_is_monotone_keeps_nans_and_never_lowers() -> None:
    p = np.random.default_rng(2).uniform(0, 0.2, 25)
    adjusted = holm(p)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0)
    assert np.all(adjusted >= p)
    with_nan = holm([0.01, float("nan"), 0.02])
    assert np.isnan(with_nan[1]) and with_nan[[0, 2]] == pytest.approx([0.02, 0.02])
    assert holm([]).size == 0
