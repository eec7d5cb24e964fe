"""Suite sections, variant names, the picklable binder and reference statistics."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from evaluators.perturbations import BoundPerturbation, PERTURBATIONS, PerturbationContext, context_from_frame
from evaluators.perturbations.spec import PerturbationSpec, RobustnessSpec, parse_variant, variant_name
from suite.errors import VigilError


def test_unknown_kind_suggests_the_nearest_name() -> None:
    with pytest.raises(ValidationError) as info:
        PerturbationSpec(kind="gausian_noise")
    assert "unknown perturbation 'gausian_noise'; did you mean 'gaussian_noise'? Available: brightness," in str(info.value)


def test_severities_are_checked_sorted_and_deduplicated() -> None:
    assert PerturbationSpec(kind="outliers", severities=[3, 1, 3]).severities == [1, 3]
    with pytest.raises(ValidationError, match=r"expected a non-empty list of severities in 0..5, got \[1, 6\]"):
        PerturbationSpec(kind="outliers", severities=[1, 6])
    with pytest.raises(ValidationError):
        PerturbationSpec(kind="outliers", colums=["a"])  # unknown key
    assert RobustnessSpec().tolerance == 0.02
    with pytest.raises(ValidationError, match=r"feature_swap needs exactly 2 columns, got \['a'\]"):
        PerturbationSpec(kind="feature_swap", columns=["a"])
    assert PerturbationSpec(kind="feature_swap", columns=["a", "b"]).columns == ["a", "b"]


def test_variant_names_round_trip() -> None:
    assert variant_name("gaussian_noise", 3) == "gaussian_noise:3" and variant_name("outliers", 0) == "clean"
    assert parse_variant("gaussian_noise:3") == ("gaussian_noise", 3) and parse_variant("clean") is None
    for bad in ("gaussian_noise", "gaussian_noise:7", "nope:2", "outliers:x"):
        with pytest.raises(VigilError, match="expected 'clean' or '<perturbation>:<1..5>'"):
            parse_variant(bad)


def test_bound_perturbation_pickles_and_matches_direct_apply() -> None:
    ctx = context_from_frame(pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [5.0, 6.0, 9.0]}), ["a", "b"], ["b"])
    bound = pickle.loads(pickle.dumps(BoundPerturbation("gaussian_noise", 4, seed=11, context=ctx)))
    x, ids = np.random.default_rng(0).normal(size=(64, 2)), np.arange(100, 164)
    direct = PERTURBATIONS.get("gaussian_noise").apply(x, 4, seed=11, sample_ids=ids, context=ctx)
    assert np.array_equal(bound(x, ids), direct) and np.array_equal(bound(x, ids)[:, 0], x[:, 0])
    assert bound.version == "1"
    with pytest.raises(VigilError, match="did you mean 'outliers'"):
        BoundPerturbation("outlier", 1, seed=0, context=PerturbationContext())
    with pytest.raises(VigilError, match="expected severity 0..5, got 9"):
        BoundPerturbation("outliers", 9, seed=0, context=PerturbationContext())


def test_context_from_frame_statistics() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan], "c": ["b", "a", None, "b"], "k": [0, 0, 0, 0]})
    ctx = context_from_frame(frame, ["x", "c", "k"], ["x", "k"], image_shape=None, num_classes=2)
    x, c, k = ctx.stats
    assert ctx.columns == (0, 2) and ctx.num_classes == 2
    assert (x.mean, x.min, x.max) == (2.0, 1.0, 3.0) and np.isclose(x.std, np.std([1.0, 2.0, 3.0]))
    assert x.quantiles[4] == 2.0 and float(x.quantile(0.5)) == 2.0 and c.categories == ("a", "b")
    assert k.std == 1.0  # a constant column gets a unit scale so noise still moves it
    assert ctx.value_range == (0.0, 3.0)
    with pytest.raises(VigilError, match=r"expected columns of the reference frame, got \['zz'\]"):
        context_from_frame(frame, ["x"], ["zz"])
