"""Metric incidents against a fixed reference, on seeded series with known change points."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from drift.change_points import segments
from drift.metric_drift import ci_z, detect_changes, excess_variance, robust_sd
from suite.sections import MetricDriftSpec

SE = 0.004  # a point's standard error: accuracy on ~5k rows


def _series(levels: list[tuple[int, float]], seed: int, between: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points at ``levels`` [(count, level), ...] with sampling noise SE (its 95% CI) and between-run spread."""
    rng = np.random.default_rng(seed)
    level = np.concatenate([np.full(count, value) for count, value in levels])
    values = level + rng.normal(0, SE, len(level)) + rng.normal(0, between, len(level))
    return values, values - 1.96 * SE, values + 1.96 * SE


def _states(values, low=None, high=None, **kw):
    return [(e.state, e.change_index) for e in detect_changes(values, low, high, **kw).events]


def test_robust_sd_and_ci_z():
    x = np.random.default_rng(0).normal(0, 2.0, 20000)
    assert robust_sd(x) == pytest.approx(2.0, rel=0.03)
    assert ci_z(0.95) == pytest.approx(1.96, abs=1e-3) and ci_z(0.9) == pytest.approx(1.645, abs=1e-3)


@pytest.mark.parametrize("seed", range(5))
def test_a_constant_then_failing_0_1_stream_alerts_only_after_the_change(seed):
    # MAD of the reference is 0; the binomial floor keeps the band open, so 1,000 constant rows alert nothing.
    rng = np.random.default_rng(seed)
    stream = np.r_[np.ones(1000), (rng.random(300) > 0.3).astype(float)]
    events = detect_changes(stream).events
    assert events and all(e.index >= 1000 for e in events)
    assert events[0].state == "opened" and events[0].direction == "down" and events[0].index < 1150
    assert detect_changes(stream[:1000]).events == []


@pytest.mark.parametrize("seed", range(5))
def test_a_bernoulli_rate_change_is_caught_after_the_change_and_not_before(seed):
    # Single 0/1 rows at 30%, then 60% from row 1000, default 10-row reference: the rows the CUSUM
    # clears join the reference, and a row's variance is its rate's p(1-p), not doubled by a spread term.
    rng = np.random.default_rng([seed, 1000])
    stream = np.r_[rng.random(1000) < 0.3, rng.random(500) < 0.6].astype(float)
    verdict = detect_changes(stream)
    assert verdict.events and all(e.index >= 1000 for e in verdict.events)
    first = verdict.events[0]
    assert (first.state, first.direction) == ("opened", "up") and first.index < 1000 + 150
    assert verdict.reference is not None and verdict.reference.between_sd == 0
    assert 900 <= verdict.reference.size <= first.index and verdict.reference.mean == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("rate", [0.002, 0.02, 0.98])
def test_a_check_that_rarely_fails_does_not_page_on_single_failures(rate):
    # Its reference grows to ~1,000 rows, so one failure is 7-20 sd out; a row counts at most 4 sd
    # and there is no one-point limit for single rows, so only a run of failures opens an incident.
    streams = [(np.random.default_rng([seed, 3]).random(2000) < rate).astype(float) for seed in range(5)]
    assert all(detect_changes(stream).events == [] for stream in streams)
    burst = streams[0].copy()
    burst[1500:1530] = 1.0 - round(rate)  # the rare outcome 30 times in a row
    assert [e.state for e in detect_changes(burst).events][:1] == ["opened"]


def test_excess_variance_is_the_spread_beyond_the_points_own_error():
    rng = np.random.default_rng(0)
    se, tau = 0.004, 0.008
    assert excess_variance(rng.normal(0, se, 5000), se**2) < 0.05 * se**2  # all sampling noise: no excess
    assert excess_variance(rng.normal(0, np.hypot(se, tau), 5000), se**2) == pytest.approx(tau**2, rel=0.15)
    assert excess_variance(np.array([0.5]), se**2) == 0.0
    # Ten points: an upper 75% bound on tau², so it is at or above the true excess about three times in four.
    draws = [excess_variance(rng.normal(0, np.hypot(se, tau), 10), se**2) for _ in range(4000)]
    assert np.mean(np.array(draws) >= tau**2) == pytest.approx(0.75, abs=0.05)
    # 0/1 rows: a Bernoulli has no between-run spread, so the reference sd is the rate's own.
    rows = np.r_[np.ones(3), np.zeros(7)]
    reference = detect_changes(rows).reference
    p = (3 + ci_z() ** 2 / 2) / (10 + ci_z() ** 2)  # Agresti–Coull
    assert reference is not None and reference.between_sd == 0 and reference.sd == pytest.approx(np.sqrt(p * (1 - p)))


def test_a_constant_series_with_or_without_ci_never_alerts():
    flat = np.full(200, 0.9)
    assert detect_changes(flat).events == []
    assert detect_changes(flat, flat - 0.01, flat + 0.01, n=np.full(200, 1000)).events == []
    assert detect_changes(np.full(200, 120.0)).events == []  # not a proportion: floored at 0.1% of its level


def test_a_proportion_without_ci_uses_the_binomial_error_with_a_floor_at_zero():
    rows = np.full(60, 2000.0)
    errors = np.r_[np.zeros(30), np.full(30, 0.02)]  # no error in 30 runs of 2,000 rows, then 2%
    assert _states(errors, n=rows) == [("opened", 30)]
    assert detect_changes(errors[:30], n=rows[:30]).events == []
    # One run with a single error among error-free runs is a blip, not an incident; one error in every run is.
    blip = np.zeros(60)
    blip[40] = 1 / 2000
    assert detect_changes(blip, n=rows).events == []
    assert _states(np.r_[np.zeros(30), np.full(30, 1 / 2000)], n=rows)[0][0] == "opened"


@pytest.mark.parametrize("seed", range(5))
def test_a_sustained_drop_opens_one_incident_that_stays_open(seed):
    values, low, high = _series([(30, 0.90), (40, 0.90 - 8 * SE)], seed)  # 0.90 -> 0.868
    verdict = detect_changes(values, low, high)
    assert [(e.state, e.direction) for e in verdict.events] == [("opened", "down")]
    opened = verdict.events[0]
    assert abs(opened.change_index - 30) <= 2 and opened.index - 30 <= 3 and opened.magnitude < -3
    assert verdict.open_incident == opened and len(values) - 1 - opened.index >= 20  # 20 windows later: still open, silent


@pytest.mark.parametrize("seed", range(5))
def test_recovery_closes_the_incident(seed):
    values, low, high = _series([(30, 0.90), (30, 0.90 - 5 * SE), (30, 0.90)], seed)
    verdict = detect_changes(values, low, high)
    assert [e.state for e in verdict.events] == ["opened", "closed"]
    opened, closed = verdict.events
    assert closed.incident == opened.incident == 1 and closed.opened_index == opened.index
    assert abs(closed.change_index - 60) <= 2 and closed.direction == "up" and verdict.open_incident is None


@pytest.mark.parametrize("seed", range(5))
def test_two_successive_changes_give_two_events_of_one_incident(seed):
    values, low, high = _series([(30, 0.90), (30, 0.90 - 5 * SE), (30, 0.90 - 10 * SE)], seed)
    events = detect_changes(values, low, high).events
    assert [e.state for e in events] == ["opened", "changed"]
    assert abs(events[0].change_index - 30) <= 2 and abs(events[1].change_index - 60) <= 2
    assert events[1].incident == 1 and events[1].direction == "down" and events[1].magnitude < events[0].magnitude


def test_a_second_incident_after_a_recovery_is_a_new_incident():
    values, low, high = _series([(30, 0.90), (25, 0.88), (25, 0.90), (25, 0.92)], seed=3)
    events = detect_changes(values, low, high).events
    assert [(e.state, e.incident) for e in events] == [("opened", 1), ("closed", 1), ("opened", 2)]
    assert events[2].direction == "up"


def test_null_series_with_realistic_noise_stay_quiet():
    # Between-run spread as large as the CI's error, 20 series × 500 runs. A 10-point reference is
    # sometimes off by chance (bench/detection.py measures 0.5-2.5 false events per 1,000 points):
    # at most 2 events per 1,000 points, in at most a third of the series.
    found = [detect_changes(*_series([(500, 0.9)], seed, between=SE)).events for seed in range(20)]
    assert sum(bool(events) for events in found) <= 7 and sum(map(len, found)) <= 2 * 20 * 490 / 1000
    quiet = [detect_changes(*_series([(500, 0.9)], seed)).events for seed in range(20)]  # CIs tell the whole noise
    assert sum(map(len, quiet)) <= 1


def test_a_small_shift_within_the_points_noise_is_not_an_incident():
    values, _, _ = _series([(20, 0.90), (40, 0.90 - 0.002)], seed=1)
    wide = 0.02  # CIs of ±0.02: a 0.002 shift is a fifth of a standard error
    assert detect_changes(values, values - wide, values + wide).events == []


def test_the_scan_is_causal_and_idempotent():
    values, low, high = _series([(30, 0.90), (30, 0.88), (30, 0.90), (30, 0.87)], seed=4)
    full = detect_changes(values, low, high).events
    assert full == detect_changes(values, low, high).events
    for end in (45, 70, 100):
        assert detect_changes(values[:end], low[:end], high[:end]).events == [e for e in full if e.index < end]


def test_the_reference_can_be_any_set_of_points():
    values, low, high = _series([(10, 0.80), (20, 0.90), (30, 0.90)], seed=2)
    assert [s for s, _ in _states(values, low, high)] == ["opened"]  # the first 10 points are the reference
    mask = np.r_[np.zeros(10, bool), np.ones(20, bool), np.zeros(30, bool)]
    verdict = detect_changes(values, low, high, reference=mask)
    assert verdict.events == [] and verdict.reference is not None and verdict.reference.last_index == 29
    too_short = detect_changes(values[:5], low[:5], high[:5])
    assert too_short.reference is None and "needs 10" in too_short.reason


def test_old_band_keys_are_accepted_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="history, k"):
        spec = MetricDriftSpec.model_validate({"history": 20, "k": 3.0, "cusum_h": 6.0})
    assert spec.cusum_h == 6.0 and spec.reference == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MetricDriftSpec(reference=20)
    with pytest.raises(ValueError, match="reference_from must be before"):
        MetricDriftSpec(reference_from="2026-02-01", reference_to="2026-01-01")


def test_change_points_locate_every_level_of_a_history():
    values, _, _ = _series([(40, 0.90), (30, 0.87), (40, 0.91)], seed=5)
    cuts = segments(values)
    assert [s.start for s in cuts] == [0, pytest.approx(40, abs=2), pytest.approx(70, abs=2)]
    assert [round(s.mean, 2) for s in cuts] == [0.90, 0.87, 0.91]
    assert [(s.start, s.end) for s in segments(np.full(30, 0.9))] == [(0, 30)]
