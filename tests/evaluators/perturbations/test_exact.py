"""Exact outputs on tiny inputs, and per-family invariants derived independently of the code."""

from __future__ import annotations

import re

import numpy as np
import pytest

from evaluators.perturbations import PERTURBATIONS, ColumnStats, PerturbationContext
from evaluators.perturbations.base import QUANTILE_LEVELS, load_table
from suite.errors import VigilError
from tests.evaluators.perturbations.batches import batch, levenshtein

IDS4 = np.arange(4)


def apply(kind: str, values: np.ndarray, severity: int, context: PerturbationContext, seed: int = 0) -> np.ndarray:
    return PERTURBATIONS.get(kind).apply(values, severity, seed=seed, sample_ids=np.arange(len(values)), context=context)


def test_brightness_contrast_pixelation_blur_by_hand() -> None:
    ctx = PerturbationContext(image_shape=(2, 2), value_range=(0.0, 1.0))
    assert apply("brightness", np.array([[0.0, 0.5, 0.8, 1.0]]), 2, ctx).tolist() == [[0.2, 0.7, 1.0, 1.0]]
    # mean 0.5, keep 0.1: 0.5 +- 0.05
    assert np.allclose(apply("contrast", np.array([[0.0, 1.0, 1.0, 0.0]]), 4, ctx), [[0.45, 0.55, 0.55, 0.45]])
    # scale 0.5 on 4x4: blocks of 2x2 averaged
    img = np.arange(16.0).reshape(1, 16)
    out = apply("pixelation", img, 2, PerturbationContext(image_shape=(4, 4))).reshape(4, 4)
    assert out.tolist() == [[2.5, 2.5, 4.5, 4.5], [2.5, 2.5, 4.5, 4.5], [10.5, 10.5, 12.5, 12.5], [10.5, 10.5, 12.5, 12.5]]
    # blur keeps a constant image and the mean of a reflected image stays close
    flat = apply("gaussian_blur", np.full((1, 16), 3.0), 5, PerturbationContext(image_shape=(4, 4)))
    assert np.allclose(flat, 3.0)


def test_uint8_images_stay_uint8_and_in_range() -> None:
    img = np.array([[0, 100, 200, 255]], dtype=np.uint8)
    out = apply("brightness", img, 1, PerturbationContext(image_shape=(2, 2), value_range=(0.0, 255.0)))
    assert out.dtype == np.uint8 and out.tolist() == [[26, 126, 226, 255]]  # +25.5, rounded half to even, clipped


def test_gaussian_noise_is_coupled_across_severities() -> None:
    x = np.zeros((50, 2))
    ctx = PerturbationContext(stats=(ColumnStats(std=2.0), ColumnStats(std=0.5)))
    d1, d5 = apply("gaussian_noise", x, 1, ctx), apply("gaussian_noise", x, 5, ctx)
    assert np.allclose(d5, d1 * (2.0 / 0.1))
    assert 0.7 < np.std(d5[:, 0]) / np.std(d5[:, 1]) / 4 < 1.3  # scaled by each column's own std


def test_feature_swap_full_rate_and_column_count() -> None:
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert apply("feature_swap", x, 5, PerturbationContext(columns=(0, 1))).tolist() == [[2.0, 1.0, 3.0], [5.0, 4.0, 6.0]]
    with pytest.raises(VigilError, match="expected exactly 2 columns, got 3"):
        apply("feature_swap", x, 1, PerturbationContext())


def test_stale_values_full_rate_writes_one_reference_value() -> None:
    ctx = PerturbationContext(stats=(ColumnStats(quantiles=tuple(100 * q for q in QUANTILE_LEVELS)),))
    out = apply("stale_values", np.full((6, 1), -1.0), 5, ctx)
    assert len(set(out.ravel().tolist())) == 1 and 5.0 <= out[0, 0] <= 95.0


def test_missing_values_rate_and_untouched_columns() -> None:
    x = np.ones((20_000, 3))
    out = apply("missing_values", x, 5, PerturbationContext(columns=(0, 2)))
    rate = np.isnan(out[:, [0, 2]]).mean()
    assert abs(rate - 0.5) < 0.02 and not np.isnan(out[:, 1]).any()
    with pytest.raises(VigilError, match="expected a float array, got dtype int64"):
        apply("missing_values", np.ones((2, 2), dtype=np.int64), 1, PerturbationContext())


def test_out_of_range_and_unseen_categories_leave_the_reference() -> None:
    ctx = PerturbationContext(stats=(ColumnStats(min=-1.0, max=2.0),))
    out = apply("out_of_range", np.full((2_000, 1), 0.5), 1, ctx)
    changed = out[out != 0.5]
    assert changed.size and ((changed > 2.0 + 0.3 - 1e-12) | (changed < -1.0 - 0.3 + 1e-12)).all()
    cats = np.array([["<unseen-0>"], ["b"]] * 500, dtype=object)
    ctx = PerturbationContext(stats=(ColumnStats(categories=("<unseen-0>", "b")),))
    new = set(apply("unseen_categories", cats, 5, ctx).ravel()) - {"<unseen-0>", "b"}
    assert new == {"<unseen-0>*", "<unseen-1>", "<unseen-2>", "<unseen-3>", "<unseen-4>"}


def test_category_typos_are_single_edits() -> None:
    values, ctx = batch("category_typos", 500, 3)
    out = apply("category_typos", values, 5, ctx)
    diffs = [(a, b) for a, b in zip(values.ravel(), out.ravel()) if a != b]
    assert diffs and all(abs(len(a) - len(b)) <= 1 and levenshtein(a, b) <= 2 for a, b in diffs)
    assert (out[:, 1] == values[:, 1]).all()  # column b not chosen


def test_text_invariants() -> None:
    values, ctx = batch("keyboard_typos", 300, 5)
    neighbours = load_table("keyboard.json")["neighbours"]
    for a, b in zip(values, apply("keyboard_typos", values, 5, ctx)):
        assert len(a) == len(b)
        assert all(x == y or y.lower() in neighbours[x.lower()] for x, y in zip(a, b))
    for a, b in zip(values, apply("casing", values, 5, ctx)):
        assert a.lower() == b.lower() and re.findall(r"\s+", a) == re.findall(r"\s+", b)
    for a, b in zip(values, apply("whitespace", values, 5, ctx)):
        assert re.sub(r"\s", "", a) == re.sub(r"\s", "", b)
    for a, b in zip(values, apply("word_dropout", values, 5, ctx)):
        words, kept = a.split(), iter(a.split())
        assert all(w in kept for w in b.split()) and len(b.split()) <= len(words)  # a subsequence
    for a, b in zip(values, apply("char_swaps_drops", values, 5, ctx)):
        assert sorted(b) == sorted(a) or len(b) < len(a)


def test_ocr_confusions_by_table() -> None:
    ctx = PerturbationContext()
    out = apply("ocr_confusions", np.array(["0000000000", "rnrnrnrn", "xyz"], dtype=object), 5, ctx)
    assert set(out[0]) <= {"0", "O"} and out[0].count("O") >= 5
    assert set(out[1].replace("rn", "")) <= {"m"} and out[2] == "xyz"


def test_label_noise_flips_to_other_classes() -> None:
    y = np.zeros(10_000, dtype=np.int64)
    out = apply("label_noise", y, 5, PerturbationContext(num_classes=3))
    assert abs((out != 0).mean() - 0.5) < 0.02 and set(np.unique(out)) == {0, 1, 2}
    with pytest.raises(VigilError, match="num_classes >= 2"):
        apply("label_noise", y, 1, PerturbationContext())


def test_series_perturbations() -> None:
    x = np.tile(np.arange(20.0), (100, 1))
    bursts = apply("dropout_bursts", x, 5, PerturbationContext())
    assert 0 < np.isnan(bursts).mean() <= 3 * 5 / 20
    drift = apply("offset_drift", np.zeros((100, 3)), 5, PerturbationContext(value_std=2.0))
    assert np.allclose(np.abs(drift), [2.0, 4.0, 6.0])  # 2 * 2 * (0.5, 1.0, 1.5)
    jitter = apply("timing_jitter", x, 5, PerturbationContext())
    assert 0 < np.abs(jitter - x).max() <= 3 and set(np.unique(jitter)) <= set(range(20))  # values of the same series


def test_bad_inputs_name_what_was_expected() -> None:
    with pytest.raises(VigilError, match="expected severity 0..5, got 6"):
        apply("outliers", np.zeros((2, 2)), 6, PerturbationContext())
    with pytest.raises(VigilError, match=r"expected image_shape \(H, W\) or \(H, W, C\), got None"):
        apply("contrast", np.zeros((2, 4)), 1, PerturbationContext())
    with pytest.raises(VigilError, match="expected a 1-D object array of strings"):
        apply("casing", np.zeros(3), 1, PerturbationContext())
    with pytest.raises(VigilError, match=r"expected one sample id per row"):
        PERTURBATIONS.get("outliers").apply(np.zeros((2, 2)), 1, seed=0, sample_ids=IDS4, context=PerturbationContext())
