"""Worst regions and newly wrong examples on constructed predictions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluators.error_analysis import newly_wrong, worst_regions


def one_hot(pred: np.ndarray, k: int = 2, p: float = 0.9) -> np.ndarray:
    out = np.full((len(pred), k), (1 - p) / (k - 1))
    out[np.arange(len(pred)), pred] = p
    return out


def scenario() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """200 examples: the candidate breaks 12 of the 50 'night' images and 1 old one."""
    n = 200
    features = pd.DataFrame({
        "sample_id": np.arange(n, dtype=np.int64) + 1000,
        "light": ["night"] * 50 + ["day"] * 150,
        "age": np.arange(n, dtype=float),  # numeric: quantile bins of 40
    })
    y = np.arange(n) % 2
    base = y.copy()
    cand = y.copy()
    cand[:12] = 1 - y[:12]  # night, ages 0..11
    cand[199] = 1 - y[199]
    cand_right_base_wrong = [100, 101]
    base[cand_right_base_wrong] = 1 - y[cand_right_base_wrong]
    return features, y, one_hot(cand), one_hot(base)


def test_worst_region_is_the_broken_one_with_mcnemar_z_and_p() -> None:
    features, y, cand, base = scenario()
    regions = worst_regions(features, y, cand, base, bins=5, min_n=10)
    top = regions.iloc[0]
    assert (top["family"], top["region"], top["n"]) in {("light", "night", 50), ("age", "[0,39.8)", 40)}
    night = regions[(regions["family"] == "light") & (regions["region"] == "night")].iloc[0]
    assert (night["newly_wrong"], night["newly_right"]) == (12, 0)
    assert night["z"] == pytest.approx(12 / math.sqrt(12))
    assert night["p_value"] == pytest.approx(stats.binomtest(12, 12, 0.5, alternative="greater").pvalue)
    assert night["diff"] == pytest.approx(12 / 50)
    day = regions[(regions["family"] == "light") & (regions["region"] == "day")].iloc[0]
    assert (day["newly_wrong"], day["newly_right"]) == (1, 2) and day["z"] < 0
    assert list(regions["z"]) == sorted(regions["z"], reverse=True)
    ages = regions[regions["family"] == "age"]
    assert len(ages) == 5 and ages["n"].sum() == 200 and "sample_id" not in set(regions["family"])


def test_small_regions_are_left_out() -> None:
    features, y, cand, base = scenario()
    regions = worst_regions(features, y, cand, base, columns=["light"], min_n=60)
    assert list(regions["region"]) == ["day"]


def test_regression_regions_use_paired_z() -> None:
    rng = np.random.default_rng(0)
    x = np.repeat(["a", "b"], 100)
    y = rng.normal(size=200)
    base = y + rng.normal(0, 0.1, 200)
    cand = base.copy()
    cand[:100] += 1.0  # worse on a
    regions = worst_regions(pd.DataFrame({"group": x}), y, cand, base)
    assert regions.iloc[0]["region"] == "a" and regions.iloc[0]["z"] > 10
    d = np.abs(cand[:100] - y[:100]) - np.abs(base[:100] - y[:100])
    assert regions.iloc[0]["z"] == pytest.approx(d.mean() / (d.std(ddof=1) / 10))


def test_newly_wrong_lists_exactly_the_regressions() -> None:
    features, y, cand, base = scenario()
    cand[5] = [0.6, 0.4] if y[5] == 1 else [0.4, 0.6]  # less confidently wrong
    wrong = newly_wrong(features["sample_id"].to_numpy(), y, cand, base)
    expected = set(range(12)) | {199}
    assert set(wrong["sample_id"] - 1000) == expected
    assert wrong.iloc[-1]["sample_id"] == 1005 and wrong.iloc[-1]["confidence"] == pytest.approx(0.6)
    assert (wrong["pred_candidate"] != wrong["y_true"]).all() and (wrong["pred_baseline"] == wrong["y_true"]).all()


def test_newly_wrong_regression_needs_a_tolerance() -> None:
    y = np.zeros(4)
    cand, base = np.array([0.0, 2.0, 0.5, 3.0]), np.array([0.0, 0.0, 2.0, 3.0])
    wrong = newly_wrong(np.arange(4), y, cand, base, tolerance=1.0)
    assert list(wrong["sample_id"]) == [1]
    with pytest.raises(ValueError, match="tolerance"):
        newly_wrong(np.arange(4), y, cand, base)
