"""Pure shadow comparisons against hand-computed values and scipy/pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluators.shadow.agreement import agreement_rate, flip_rate, flip_rate_by_group
from evaluators.shadow.latency import latency_comparison, latency_percentiles
from evaluators.shadow.paired import mcnemar_exact, paired_bootstrap_diff, wilson_interval
from evaluators.shadow.scores import rank_correlation, score_deltas


def test_agreement_and_flip_rate() -> None:
    prod = np.array([0, 1, 2, 2, 1, 0, 0, 1])
    cand = np.array([0, 1, 1, 2, 0, 0, 2, 1])
    assert agreement_rate(prod, cand) == 5 / 8
    assert flip_rate(prod, cand) == 3 / 8
    assert agreement_rate(np.array([1.0, 2.0]), np.array([1.05, 2.5]), tolerance=0.1) == 0.5
    with pytest.raises(ValueError, match="aligned"):
        agreement_rate(prod, cand[:3])


def test_flip_rate_by_group_matches_a_hand_table() -> None:
    flips = np.array([1, 0, 0, 1, 1, 0])
    groups = np.array(["b", "a", "a", "b", "c", "b"])
    table = flip_rate_by_group(flips, groups)
    assert table.values.tolist() == [["a", 0.0, 0, 2], ["b", 2 / 3, 2, 3], ["c", 1.0, 1, 1]]


def test_score_deltas_use_production_chosen_class() -> None:
    prod = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    cand = np.array([[0.7, 0.3], [0.5, 0.5], [0.2, 0.8]])
    d = score_deltas(prod, cand)  # chosen classes 0, 1, 1: deltas -0.2, -0.1, +0.1
    assert d.mean == pytest.approx(-0.2 / 3)
    assert d.mean_abs == pytest.approx(0.4 / 3)
    assert d.p95_abs == pytest.approx(0.1 + 0.9 * 0.1)  # linear interpolation between 0.1 and 0.2 at 0.9 of the way


def test_rank_correlation_matches_pandas_spearman() -> None:
    rng = np.random.default_rng(3)
    p1 = rng.uniform(size=50)
    c1 = np.clip(p1 + rng.normal(0, 0.2, 50), 0, 1)
    expected = pd.Series(p1).corr(pd.Series(c1), method="spearman")
    assert rank_correlation(np.c_[1 - p1, p1], np.c_[1 - c1, c1]) == pytest.approx(expected)
    assert rank_correlation(p1, c1) == pytest.approx(expected)
    assert np.isnan(rank_correlation(np.ones(5), np.arange(5.0)))


def test_latency_percentiles() -> None:
    values = np.arange(1, 101, dtype=float)
    assert latency_percentiles(values) == {"p50": 50.5, "p95": pytest.approx(95.05), "p99": pytest.approx(99.01)}
    out = latency_comparison(values, values + 2)
    assert out["latency_p99_added"] == pytest.approx(2.0)
    assert np.isnan(latency_percentiles(np.array([np.nan]))["p50"])


def test_mcnemar_exact_matches_scipy_binomtest() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(size=300) < 0.8
    b = rng.uniform(size=300) < 0.7
    result = mcnemar_exact(a, b)
    assert (result.b, result.c) == (int(np.sum(a & ~b)), int(np.sum(~a & b)))
    assert result.p_value == pytest.approx(stats.binomtest(result.b, result.b + result.c, 0.5).pvalue)
    assert mcnemar_exact(a, a).p_value == 1.0


def test_paired_bootstrap_diff() -> None:
    rng = np.random.default_rng(1)
    a = (rng.uniform(size=2000) < 0.8).astype(float)
    b = (rng.uniform(size=2000) < 0.7).astype(float)
    r = paired_bootstrap_diff(a, b, resamples=500, seed=4)
    assert r.diff == pytest.approx(a.mean() - b.mean())
    se = np.std(a - b, ddof=1) / np.sqrt(len(a))  # normal-approximation width as an independent check
    assert r.ci_low == pytest.approx(r.diff - 1.96 * se, abs=0.25 * 1.96 * se)
    assert r.ci_high == pytest.approx(r.diff + 1.96 * se, abs=0.25 * 1.96 * se)
    assert paired_bootstrap_diff(a, b, resamples=500, seed=4) == r
    same = paired_bootstrap_diff(a, a, resamples=50)
    assert (same.diff, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)


def test_wilson_interval_known_value() -> None:
    low, high = wilson_interval(8, 10)  # textbook values: 0.4902, 0.9433
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert all(np.isnan(wilson_interval(0, 0)))


@pytest.mark.parametrize("correctness", [True, False])
def test_paired_difference_past_the_threshold_agrees_with_resampling_rows(monkeypatch: pytest.MonkeyPatch, correctness: bool) -> None:
    import evaluators.shadow.paired as paired

    rng = np.random.default_rng(7)
    n = 30_000
    if correctness:  # candidate right 91%, production 90%, correlated
        prod = rng.random(n) < 0.90
        cand = np.where(rng.random(n) < 0.8, prod, rng.random(n) < 0.95)
    else:  # absolute errors, skewed
        prod = rng.exponential(1.0, n)
        cand = prod * rng.uniform(0.8, 1.1, n)
    fast = paired.paired_bootstrap_diff(cand, prod, resamples=2000, seed=1, correctness=correctness)
    assert paired.ci_method(n, correctness) == ("paired-bootstrap" if correctness else "normal")
    monkeypatch.setattr(paired, "EXACT_MAX_ROWS", 10 * n)
    rows = paired.paired_bootstrap_diff(cand, prod, resamples=2000, seed=2, correctness=correctness)
    assert fast.diff == rows.diff
    width = rows.ci_high - rows.ci_low
    assert abs(fast.ci_low - rows.ci_low) < 0.08 * width and abs(fast.ci_high - rows.ci_high) < 0.08 * width
