"""Merged shard summaries: exact merging, and scores/verdicts matching full-data checks and Evidently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift.checks import check_column, column_kind, evidently_method
from drift.policy import apply_policy
from drift.evidently_adapter import run_data_drift
from drift.scale import drift_from_summaries, make_bins_spec, merge_summaries, shard_summary

from .conftest import mixed_frames


def _summaries(ref: pd.DataFrame, cur: pd.DataFrame, shards: int = 4):
    cols = list(ref.columns)
    spec = make_bins_spec(ref, cols)
    ref_s = merge_summaries([shard_summary(part, cols, spec) for part in np.array_split(ref, shards)])
    cur_s = merge_summaries([shard_summary(part, cols, spec) for part in np.array_split(cur, shards)])
    return ref_s, cur_s


def test_merging_shards_equals_one_summary():
    ref, _ = mixed_frames(5000, seed=2)
    spec = make_bins_spec(ref, list(ref.columns))
    whole = shard_summary(ref, list(ref.columns), spec)
    merged = merge_summaries([shard_summary(p, list(ref.columns), spec) for p in np.array_split(ref, 7)])
    for col in ref.columns:
        assert merged[col].n == whole[col].n == 5000
        assert merged[col].values == whole[col].values
        if merged[col].kind == "numerical":
            np.testing.assert_array_equal(merged[col].counts, whole[col].counts)
            assert merged[col].mean == pytest.approx(ref[col].mean())
            assert merged[col].std == pytest.approx(np.std(ref[col]))


def test_summaries_agree_with_evidently_on_large_windows():
    ref, cur = mixed_frames(5000, seed=4)
    ref_s, cur_s = _summaries(ref, cur)
    chosen = {c: evidently_method(column_kind(ref[c]), len(ref), pd.concat([ref[c], cur[c]]).nunique()) for c in ref}
    ours = drift_from_summaries(ref_s, cur_s, per_column_method=chosen).by_column()
    evidently, _ = run_data_drift(ref, cur)
    for result in evidently.columns:
        mine = ours[result.column]
        assert (mine.method, mine.drifted) == (result.method, result.drifted), result.column
        assert mine.score == pytest.approx(result.score, abs=0.003)
        assert mine.engine == "summaries" and not mine.sampled and mine.sample_size is None


@pytest.mark.parametrize("n", [600, 20000])
def test_default_policy_is_the_same_from_summaries_and_from_frames(n):
    ref, cur = mixed_frames(n, seed=7)
    ref_s, cur_s = _summaries(ref, cur)
    summaries = drift_from_summaries(ref_s, cur_s).by_column()
    frames = {r.column: r for r in apply_policy([check_column(ref[c], cur[c]) for c in ref.columns])}
    assert {c: r.method for c, r in frames.items()} == {
        "shifted": "ks", "wider": "ks", "steady": "ks", "cat_new": "chi_square_homogeneity",
        "cat_steady": "chi_square_homogeneity", "binary": "z"}
    for col, exact in frames.items():
        mine = summaries[col]
        assert (mine.method, mine.drifted, mine.effect_name) == (exact.method, exact.drifted, exact.effect_name), col
        assert mine.effect == pytest.approx(exact.effect, abs=2e-3)
        assert mine.correction == exact.correction == "bh" and mine.alpha == exact.alpha == 0.05
        if exact.p_value > 1e-6:  # the K-S p-value is asymptotic from summaries, exact-or-asymptotic from frames
            assert mine.p_value == pytest.approx(exact.p_value, rel=0.15, abs=2e-3)
        assert mine.p_adjusted >= mine.p_value
    assert {c for c, r in frames.items() if r.drifted} == {"shifted", "wider", "cat_new"}


@pytest.mark.parametrize("method", ["wasserstein", "psi", "jensen_shannon", "ks"])
def test_summaries_approximate_each_numeric_method(method):
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"t": rng.standard_t(3, 20000), "k": rng.integers(0, 4, 20000)})
    cur = pd.DataFrame({"t": rng.standard_t(3, 20000) * 1.3 + 0.2, "k": rng.integers(0, 5, 20000)})
    ref_s, cur_s = _summaries(ref, cur)
    result = drift_from_summaries(ref_s, cur_s, per_column_method={"t": method, "k": method}).by_column()
    for col in ("t", "k"):
        exact = check_column(ref[col], cur[col], method=method)
        assert result[col].drifted == exact.drifted
        if method == "ks":  # p-values this small are compared on a log scale
            assert np.log10(max(result[col].score, 1e-300)) == pytest.approx(np.log10(max(exact.score, 1e-300)), rel=0.1)
        else:
            assert result[col].score == pytest.approx(exact.score, rel=0.02, abs=0.002)


def test_new_category_in_current_only():
    ref = pd.DataFrame({"c": ["a", "b"] * 1000})
    cur = pd.DataFrame({"c": ["a", "b", "new", "a"] * 500})
    ref_s, cur_s = _summaries(ref, cur)
    chi = drift_from_summaries(ref_s, cur_s, per_column_method={"c": "chi_square"}).columns[0]
    assert chi.score == 0.0 and chi.drifted
    default = drift_from_summaries(ref_s, cur_s).columns[0]
    assert default.method == "chi_square_homogeneity" and default.drifted
    assert default.score == pytest.approx(check_column(ref["c"], cur["c"]).score)
    assert default.effect == pytest.approx(0.25)  # a quarter of the mass moved to the new category
