"""Vigil's checks against Evidently's own verdicts and scores, and the threshold direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from drift.checks import DRIFT_CHECKS, check_column, column_kind, evidently_method
from drift.evidently_adapter import run_data_drift
from drift.results import DatasetDrift, DriftResult, is_drifted
from suite.errors import VigilError

from .conftest import mixed_frames


def _evidentlys_choice(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, str]:
    return {c: evidently_method(column_kind(ref[c]), len(ref), pd.concat([ref[c], cur[c]]).nunique()) for c in ref.columns}


@pytest.mark.parametrize("n", [500, 3000])
def test_evidentlys_default_choice_matches_evidently_scores_and_verdicts(n):
    ref, cur = mixed_frames(n, seed=n)
    evidently, _ = run_data_drift(ref, cur)
    chosen = _evidentlys_choice(ref, cur)
    for result in evidently.columns:
        ours = check_column(ref[result.column], cur[result.column], method=chosen[result.column])
        assert ours.method == result.method
        assert ours.score == pytest.approx(result.score, rel=1e-9, abs=1e-12)
        assert ours.drifted == result.drifted, result.column
    # Both small-sample (p-value) and large-sample (distance) methods were exercised.
    kinds = {r.score_kind for r in evidently.columns}
    assert kinds == ({"p_value"} if n <= 1000 else {"distance"})


@pytest.mark.parametrize("method", ["psi", "jensen_shannon", "chi_square"])
def test_overridden_methods_match_evidently(method):
    ref, cur = mixed_frames(2000, seed=3)
    cols = ["cat_new", "cat_steady"] if method == "chi_square" else ["shifted", "wider", "steady", "cat_new", "cat_steady"]
    evidently, _ = run_data_drift(ref, cur, cols, per_column_method={c: method for c in cols})
    for result in evidently.columns:
        ours = check_column(ref[result.column], cur[result.column], method=method)
        assert result.method == method
        assert ours.score == pytest.approx(result.score, rel=1e-9, abs=1e-12)
        assert ours.drifted == result.drifted


def test_ks_and_wasserstein_follow_their_definitions():
    rng = np.random.default_rng(1)
    a, b = pd.Series(rng.normal(size=300), name="x"), pd.Series(rng.normal(0.2, size=300), name="x")
    assert DRIFT_CHECKS.get("ks")(a, b).score == pytest.approx(ks_2samp(a, b).pvalue)
    expected = wasserstein_distance(a, b) / np.std(a)
    assert DRIFT_CHECKS.get("wasserstein")(a, b).score == pytest.approx(expected)


def test_threshold_direction_comes_from_score_kind():
    assert is_drifted(0.01, 0.05, "p_value") and not is_drifted(0.2, 0.05, "p_value")
    assert is_drifted(0.1, 0.1, "distance") and not is_drifted(0.05, 0.1, "distance")
    same = pd.Series([1.0, 2, 3] * 100, name="x")
    assert not DRIFT_CHECKS.get("ks")(same, same).drifted  # p = 1
    assert not DRIFT_CHECKS.get("wasserstein")(same, same).drifted  # distance 0


def test_missing_and_infinite_values_are_dropped():
    ref = pd.Series([1.0, 2.0, np.nan, np.inf] + list(range(50)), name="x")
    result = DRIFT_CHECKS.get("ks")(ref, ref)
    assert result.n_reference == 52


def test_unknown_check_suggests_a_name():
    with pytest.raises(VigilError, match="did you mean 'wasserstein'"):
        DRIFT_CHECKS.get("wasserstien")


def test_a_numeric_only_check_refuses_categories():
    s = pd.Series(list("abc") * 10, name="c")
    with pytest.raises(VigilError, match="expected a numerical column, got categorical"):
        check_column(s, s, method="ks")


def test_dataset_share_must_match_its_columns():
    r = DriftResult.judge(column="x", score=0.5, score_kind="distance", threshold=0.1, method="psi",
                          n_reference=1, n_current=1)
    assert DatasetDrift.of([r]).dataset_drifted
    with pytest.raises(ValueError):
        DatasetDrift(columns=[r], share_drifted=0.0, dataset_drifted=False)
