"""The default drift policy against seeded simulations with known truth: power, false alarms, trivial shifts, joint shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.detection_columns import null_false_alarms
from drift.checks import DRIFT_CHECKS, check_column
from drift.policy import DriftPolicy, apply_policy
from drift.scale import drift_from_summaries, make_bins_spec, shard_summary

REFERENCE_ROWS = 5000


def _label(rng: np.random.Generator, n: int, rate: float) -> pd.Series:
    return pd.Series((rng.random(n) < rate).astype(np.int64), name="label")


@pytest.mark.parametrize(("before", "after"), [(0.66, 0.56), (0.5, 0.4)])
def test_a_tenth_shift_of_a_label_rate_is_caught_in_500_row_windows(before, after):
    rng = np.random.default_rng(1)
    reference = _label(rng, REFERENCE_ROWS, before)
    caught = [check_column(reference, _label(rng, 500, after), kind="categorical").drifted for _ in range(200)]
    assert np.mean(caught) >= 0.9


@pytest.mark.slow  # a false-alarm study over 195 null windows (~15 CPU s)
def test_null_column_windows_are_rarely_flagged_at_any_size():
    # A fresh reference per window: a p-value's level is over both samples (against one fixed
    # reference, every window shares that reference's own sampling error).
    share, group_share, _ = null_false_alarms(np.random.default_rng(2), {200: 60, 500: 60, 2000: 60, 20000: 15})
    assert share <= 0.01
    assert group_share <= 0.08  # BH under no drift at all controls the group's alarm rate at alpha


def test_a_single_column_group_alarms_at_about_alpha():
    rng = np.random.default_rng(3)
    alarms = np.mean([check_column(_label(rng, REFERENCE_ROWS, 0.3), _label(rng, 500, 0.3), kind="categorical").drifted
                      for _ in range(400)])
    assert alarms <= 0.075


def _summary(frame: pd.DataFrame, spec):
    return shard_summary(frame, list(frame.columns), spec)


def test_trivial_shifts_in_million_row_windows_are_significant_but_not_drift():
    rng = np.random.default_rng(4)
    n = 1_000_000
    reference = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "label": (rng.random(n) < 0.5).astype(np.int64)})
    current = pd.DataFrame({"x": rng.normal(0.005, 1.0, n), "y": rng.normal(0.02, 1.0, n),
                            "label": (rng.random(n) < 0.503).astype(np.int64)})
    spec = make_bins_spec(reference.iloc[:200_000], list(reference.columns))
    result = drift_from_summaries(_summary(reference, spec), _summary(current, spec)).by_column()
    assert not any(r.drifted for r in result.values())
    # The tests alone would flag the 0.02-std shift and the 0.003 rate change: the floors decide.
    assert result["y"].p_adjusted < 0.05 and result["y"].effect < result["y"].effect_floor == 0.02
    assert result["label"].p_adjusted < 0.05 and result["label"].effect < result["label"].effect_floor == 0.04
    # A lower floor, set per column, lets the same 0.02-std shift through.
    lowered = drift_from_summaries(_summary(reference, spec), _summary(current, spec),
                                   policy=DriftPolicy(effect_floors={"y": 0.005})).by_column()
    assert lowered["y"].drifted and not lowered["x"].drifted


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    x = rng.normal(size=(n, 5))
    x[:, :2] = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])


def test_a_joint_only_shift_is_found_by_the_multivariate_check_and_by_no_column():
    rng = np.random.default_rng(5)
    reference = _correlated(rng, REFERENCE_ROWS, 0.6)
    joint, columns = [], []
    for _ in range(10):
        window = _correlated(rng, 500, -0.6)  # each marginal is still N(0, 1)
        joint.append(DRIFT_CHECKS.get("mmd")(reference, window).drifted)
        columns += [r.drifted for r in apply_policy([check_column(reference[c], window[c]) for c in reference.columns])]
    assert sum(joint) >= 9
    assert sum(columns) <= 1
    null = np.random.default_rng(6)
    same = [DRIFT_CHECKS.get("mmd")(reference, _correlated(null, 500, 0.6)) for _ in range(20)]
    assert sum(r.drifted for r in same) <= 3  # a permutation p-value: about 1 in 20 at alpha 0.05
    assert same[0].sampled and same[0].sample_size == 1000 and same[0].n_reference == REFERENCE_ROWS
