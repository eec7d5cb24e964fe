"""Counter-based randomness: reference splitmix64 values, distributions, independence of keys."""

from __future__ import annotations

import numpy as np
from scipy import stats

from evaluators.perturbations import random as R


def test_splitmix_matches_the_reference_sequence() -> None:
    # splitmix64 with state 0: published first outputs 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4.
    state = np.array([0], dtype=np.uint64)
    first = R._splitmix(state)
    second = R._splitmix(state + R._GOLDEN)
    assert int(first[0]) == 0xE220A8397B1DCDAF
    assert int(second[0]) == 0x6E789E6AA1B965F4


def test_uniform_and_normal_distributions() -> None:
    ids = np.arange(20_000)[:, None]
    u = R.uniform(3, ids, "t", np.arange(5)[None, :]).ravel()
    z = R.normal(3, ids, "t", np.arange(5)[None, :]).ravel()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert ((0 <= u) & (u < 1)).all()


def test_keys_are_independent_of_batch_and_differ_by_seed_stream_and_index() -> None:
    ids = np.array([5, -7, 2**40])
    grid = R.uniform(1, ids[:, None], "s", np.arange(3)[None, :])
    assert np.array_equal(grid[1], R.uniform(1, np.array([[-7]]), "s", np.arange(3)[None, :])[0])
    others = [R.uniform(2, ids[:, None], "s", np.arange(3)[None, :]), R.uniform(1, ids[:, None], "t", np.arange(3)[None, :])]
    assert all(not np.isclose(grid, o).any() for o in others)
    assert len(np.unique(grid)) == grid.size


def test_integers_cover_the_range_evenly() -> None:
    k = R.integers(0, np.arange(30_000), "i", 0, 2, 5)
    counts = np.bincount(k, minlength=5)
    assert counts[:2].sum() == 0 and counts[2:].min() > 9_500
    assert stats.chisquare(counts[2:]).pvalue > 1e-3


def test_ragged_draws_match_flat_keys() -> None:
    pieces = R.ragged_uniform(4, [10, 11, 12], "r", [2, 0, 3])
    assert [len(p) for p in pieces] == [2, 0, 3]
    assert np.array_equal(pieces[2], R.uniform(4, np.full(3, 12), "r", np.arange(3)))
