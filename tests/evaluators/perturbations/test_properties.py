"""Properties every registered perturbation must have, checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators.perturbations import PERTURBATIONS
from tests.evaluators.perturbations.batches import batch, same, strength

KINDS = PERTURBATIONS.names()
FAST = settings(max_examples=12, deadline=None)


def test_every_family_is_registered() -> None:
    families = {PERTURBATIONS.get(k).family for k in KINDS}
    assert families == {"tabular", "image", "text", "series", "label"}
    assert len(KINDS) == 26
    assert all(len(PERTURBATIONS.get(k).ladder) == 5 for k in KINDS)


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(n=st.integers(1, 40), data_seed=st.integers(0, 2**16), seed=st.integers(-(2**40), 2**40),
       severity=st.integers(1, 5), cuts=st.lists(st.integers(0, 40), max_size=3))
def test_deterministic_shape_dtype_and_sharding_free(
    kind: str, n: int, data_seed: int, seed: int, severity: int, cuts: list[int]
) -> None:
    values, context = batch(kind, n, data_seed)
    original = values.copy()
    ids = np.random.default_rng(data_seed).permutation(10 * n)[:n].astype(np.int64) - 5 * n
    p = PERTURBATIONS.get(kind)
    whole = p.apply(values, severity, seed=seed, sample_ids=ids, context=context)
    assert same(values, original), "input was mutated"
    assert whole.shape == values.shape and whole.dtype == values.dtype
    assert same(whole, p.apply(values, severity, seed=seed, sample_ids=ids, context=context))
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    shards = [p.apply(values[a:b], severity, seed=seed, sample_ids=ids[a:b], context=context)
              for a, b in zip(bounds, bounds[1:])]
    assert same(whole, np.concatenate(shards))
    order = np.random.default_rng(seed % 1000).permutation(n)
    shuffled = p.apply(values[order], severity, seed=seed, sample_ids=ids[order], context=context)
    assert same(whole[order], shuffled)


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(n=st.integers(0, 30), data_seed=st.integers(0, 2**16), seed=st.integers(0, 2**31))
def test_severity_zero_is_identity(kind: str, n: int, data_seed: int, seed: int) -> None:
    values, context = batch(kind, n, data_seed)
    out = PERTURBATIONS.get(kind).apply(values, 0, seed=seed, sample_ids=np.arange(n), context=context)
    assert same(out, values) and out is not values


@pytest.mark.slow  # a property over every perturbation and five severities (~14 CPU s)
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=4, deadline=None)
@given(data_seed=st.integers(0, 2**16), seed=st.integers(0, 2**31))
def test_strength_grows_with_severity(kind: str, data_seed: int, seed: int) -> None:
    values, context = batch(kind, 300, data_seed)
    ids = np.arange(300)
    p = PERTURBATIONS.get(kind)
    strengths = [strength(values, p.apply(values, s, seed=seed, sample_ids=ids, context=context)) for s in range(6)]
    assert strengths[0] == 0.0
    assert strengths[5] > strengths[1] > 0.0, strengths
    assert all(b >= a for a, b in zip(strengths, strengths[1:])), strengths


@pytest.mark.parametrize("kind", KINDS)
def test_seed_changes_the_draws_but_not_the_rows(kind: str) -> None:
    values, context = batch(kind, 200, 1)
    p = PERTURBATIONS.get(kind)
    a = p.apply(values, 3, seed=1, sample_ids=np.arange(200), context=context)
    b = p.apply(values, 3, seed=2, sample_ids=np.arange(200), context=context)
    deterministic = kind in ("brightness", "contrast", "gaussian_blur", "pixelation")
    assert same(a, b) == deterministic
