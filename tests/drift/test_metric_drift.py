"""Metric-history drift: a level shift is found where it happens, noise and a steady series are not."""

from __future__ import annotations

import numpy as np
import pytest

from drift.metric_drift import band_change, cusum_change, metric_changes, robust_sd
from drift.spec import MetricDriftSpec

CI_HALF = 0.006  # a bootstrap CI half-width typical of accuracy on ~10k rows


def _series(n: int, change_at: int | None, shift: float, seed: int, noise: float = 0.003):
    rng = np.random.default_rng(seed)
    values = 0.90 + rng.normal(0, noise, n)
    if change_at is not None:
        values[change_at:] += shift
    return values, values - CI_HALF, values + CI_HALF


def test_robust_sd_matches_std_on_normal_data():
    x = np.random.default_rng(0).normal(0, 2.0, 20000)
    assert robust_sd(x) == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize("seed", range(5))
def test_a_drop_in_the_newest_run_is_flagged(seed):
    values, low, high = _series(25, change_at=24, shift=-0.05, seed=seed)
    change = band_change(values, low, high)
    assert change.detected and change.direction == "down" and change.index == 24
    assert change.magnitude < -3


@pytest.mark.parametrize("seed", range(5))
def test_a_steady_series_never_alerts(seed):
    values, low, high = _series(40, change_at=None, shift=0.0, seed=seed)
    for end in range(10, 41):  # replay the history run by run
        assert not band_change(values[:end], low[:end], high[:end]).detected
    assert not cusum_change(values, low, high).detected


def test_noise_within_the_ci_is_not_called_drift():
    values, low, high = _series(25, change_at=None, shift=0.0, seed=1)
    values[-1] -= 0.012  # outside a k=3 band of the history spread, but its CI still overlaps it
    low[-1], high[-1] = values[-1] - 0.02, values[-1] + 0.02
    assert band_change(values, low, high, MetricDriftSpec(require_ci_outside=False)).detected
    assert not band_change(values, low, high).detected


@pytest.mark.parametrize("seed", range(5))
def test_cusum_finds_a_small_sustained_shift_and_where_it_began(seed):
    values, low, high = _series(40, change_at=25, shift=-0.006, seed=seed)
    assert not band_change(values, low, high).detected  # too small for the band on the newest point
    change = cusum_change(values, low, high)
    assert change.detected and change.direction == "down"
    assert 22 <= change.index <= 28


def test_too_short_a_history_gives_no_verdict():
    changes = metric_changes([0.9, 0.8], [0.89, 0.79], [0.91, 0.81])
    assert [c.detected for c in changes] == [False, False]
    assert "min_history" in changes[0].reason
