"""Confidence-based estimation under a pure covariate shift: calibrated and miscalibrated models.

Ground truth by seeded simulation: x ~ N(centre, I), true P(y | x) = softmax(x @ W.T)
on every window (covariate shift), labels drawn from it. A miscalibrated model reports
softmax(2 · x @ W.T) (overconfident) or adds a class bias; its calibrator is fitted on a
fresh labelled reference drawn at centre 0.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from bench.detection_estimation import simulate
from drift.calibration import ISOTONIC_MIN_ROWS, MIN_ROWS, Platt, Temperature
from drift.performance_estimation import (
    IDENTITY,
    compare_with_labels,
    estimate_performance,
    expected_confusion,
    fit_calibrator,
    macro_f1_from_confusion,
)
from suite.errors import DataError

WEIGHTS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])  # softmax(x @ W.T) is the true P(y | x)
BINARY = np.array([[0.0, 0.0], [1.5, -1.0]])
SHIFT = (1.0, -0.8)


def _draw(rng: np.random.Generator, n: int, weights: np.ndarray, centre=(0.0, 0.0), model: str = "calibrated"):
    """The model's scores, the labels and the true probabilities of n rows around ``centre`` (the bench's simulation)."""
    return simulate(rng, n, weights, centre, model)


def _window(n: int, centre: tuple[float, float], seed: int):
    p, y, _ = _draw(np.random.default_rng(seed), n, WEIGHTS, centre)
    return p, y


def test_macro_f1_from_a_hard_confusion_matches_sklearn():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    cm = confusion_matrix(y, pred).astype(float)
    assert macro_f1_from_confusion(cm) == pytest.approx(f1_score(y, pred, average="macro"))


def test_expected_confusion_sums_probabilities():
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(expected_confusion(p), [[1.5, 0.2], [0.5, 0.8]])


@pytest.mark.parametrize("centre", [(0.0, 0.0), (1.5, -0.5), (-1.0, 1.5)])
def test_estimate_brackets_realised_metrics_under_covariate_shift(centre):
    accuracy_hits, f1_hits = [], []
    for seed in range(10):
        p, y = _window(3000, centre, seed)
        est = estimate_performance(p, seed=seed)
        check = compare_with_labels(est, y, p)
        assert check.accuracy == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
        accuracy_hits.append(check.accuracy_within)
        f1_hits.append(check.macro_f1_within)
        assert abs(est.accuracy - check.accuracy) < 0.03
    # 95% intervals for the realised value: an occasional miss over 10 windows, not more
    # (P(>= 3 misses) = 1.2% for a correct interval).
    assert sum(accuracy_hits) >= 8 and sum(f1_hits) >= 8


def test_concept_shift_is_caught_when_labels_arrive():
    p, y = _window(3000, (0.0, 0.0), seed=1)
    flipped = np.where(y == 1, 2, np.where(y == 2, 1, y))  # P(y | x) changed: classes 1 and 2 swapped
    check = compare_with_labels(estimate_performance(p), flipped, p)
    assert not check.accuracy_within and check.accuracy < check.accuracy_estimate - 0.1


def test_probabilities_must_sum_to_one():
    with pytest.raises(DataError, match="summing to 1"):
        estimate_performance(np.array([[0.5, 0.4]]))


def _pair(rng: np.random.Generator, weights: np.ndarray, model: str, n_reference: int, n_window: int):
    """A calibrator fitted on a labelled reference at centre 0, and a shifted window (scores, labels, truth)."""
    ref_scores, ref_y, _ = _draw(rng, n_reference, weights, model=model)
    return fit_calibrator(ref_scores, ref_y, seed=int(rng.integers(1 << 30))), _draw(rng, n_window, weights, SHIFT, model)


@pytest.mark.parametrize("weights", [BINARY, WEIGHTS], ids=["binary", "3-class"])
@pytest.mark.parametrize("model", ["overconfident", "biased"])
def test_calibration_removes_the_bias_of_a_miscalibrated_model_under_covariate_shift(weights, model):
    rng = np.random.default_rng(7)
    calibrated, raw = [], []
    for _ in range(40):
        calibrator, (scores, y, _) = _pair(rng, weights, model, 2000, 2000)
        realised = float(np.mean(scores.argmax(axis=1) == y))
        calibrated.append(estimate_performance(scores, calibrator=calibrator, resamples=20).accuracy - realised)
        raw.append(estimate_performance(scores, resamples=20).accuracy - realised)
    assert abs(np.mean(calibrated)) < 0.005 and np.mean(np.abs(calibrated)) < 0.012
    assert np.mean(raw) > 0.04  # the raw scores overstate accuracy, every time
    assert np.mean(np.abs(raw)) > 4 * np.mean(np.abs(calibrated))


@pytest.mark.slow  # a coverage study over many seeded windows (~5 CPU s)
@pytest.mark.parametrize("weights", [BINARY, WEIGHTS], ids=["binary", "3-class"])
def test_intervals_cover_the_realised_value_at_about_their_nominal_rate(weights):
    rng = np.random.default_rng(11)
    accuracy_in, f1_in, widths = [], [], []
    for _ in range(200):
        calibrator, (scores, y, _) = _pair(rng, weights, "overconfident", 1000, 1000)
        est = estimate_performance(scores, calibrator=calibrator, resamples=100, seed=int(rng.integers(1 << 30)))
        check = compare_with_labels(est, y, scores)
        accuracy_in.append(check.accuracy_within)
        f1_in.append(check.macro_f1_within)
        widths.append(est.accuracy_high - est.accuracy_low)
    # 95% intervals: a correct one covers ~190 of 200 (P(< 170) is below 1e-6).
    assert np.mean(accuracy_in) >= 0.85 and np.mean(f1_in) >= 0.85
    # ...without being uselessly wide: window noise (~0.013 sd) and calibrator noise, not more.
    assert np.mean(widths) < 0.08


def test_calibrating_a_calibrated_model_changes_nothing_material():
    rng = np.random.default_rng(3)
    differences = []
    for _ in range(30):
        calibrator, (scores, _, _) = _pair(rng, WEIGHTS, "calibrated", 2000, 2000)
        differences.append(estimate_performance(scores, calibrator=calibrator, resamples=10).accuracy
                           - estimate_performance(scores, resamples=10).accuracy)
        fitted = calibrator.maps[0]
        assert isinstance(fitted, Platt) and fitted.slope == pytest.approx(1.0, abs=0.15)
    assert abs(np.mean(differences)) < 0.003 and np.mean(np.abs(differences)) < 0.01


def test_platt_and_temperature_recover_a_known_distortion():
    rng = np.random.default_rng(5)
    scores, y, _ = _draw(rng, 20000, WEIGHTS, model="overconfident")
    assert fit_calibrator(scores, y, method="platt", bootstraps=0).maps[0].slope == pytest.approx(0.5, abs=0.03)
    temperature = fit_calibrator(scores, y, method="temperature", bootstraps=0).maps[0]
    assert isinstance(temperature, Temperature) and temperature.temperature == pytest.approx(2.0, abs=0.1)
    scores, y, _ = _draw(rng, 20000, WEIGHTS, model="biased")
    biased = fit_calibrator(scores, y, method="platt", bootstraps=0).maps[0]
    assert biased.slope == pytest.approx(1.0, abs=0.05) and biased.intercepts[1] == pytest.approx(-1.0, abs=0.1)


def test_isotonic_fixes_a_warped_binary_model_that_platt_cannot():
    rng = np.random.default_rng(9)
    errors: dict[str, list[float]] = {"isotonic": [], "platt": []}
    for _ in range(15):
        ref_scores, ref_y, _ = _draw(rng, ISOTONIC_MIN_ROWS, BINARY, model="warped")
        scores, _, truth = _draw(rng, 3000, BINARY, SHIFT, model="warped")
        pred = scores.argmax(axis=1)
        expected = float(truth[np.arange(len(pred)), pred].mean())  # the window's true expected accuracy
        for method, errs in errors.items():
            calibrator = fit_calibrator(ref_scores, ref_y, method=method, bootstraps=0)
            errs.append(abs(estimate_performance(scores, calibrator=calibrator, resamples=5).accuracy - expected))
    assert fit_calibrator(ref_scores, ref_y, bootstraps=0).method == "isotonic"
    assert np.mean(errors["isotonic"]) < 0.008 < np.mean(errors["platt"])


def test_auto_method_follows_the_documented_rule():
    rng = np.random.default_rng(0)
    scores, y, _ = _draw(rng, ISOTONIC_MIN_ROWS, BINARY)
    assert fit_calibrator(scores[: MIN_ROWS - 1], y[: MIN_ROWS - 1]).method == "identity"
    assert fit_calibrator(scores, np.zeros(len(y), dtype=int)).method == "identity"  # one class: nothing to learn
    assert fit_calibrator(scores[:500], y[:500], bootstraps=2).method == "platt"
    assert fit_calibrator(scores, y, bootstraps=2).method == "isotonic"
    scores3, y3, _ = _draw(rng, ISOTONIC_MIN_ROWS, WEIGHTS)
    assert fit_calibrator(scores3, y3, bootstraps=2).method == "platt"  # one-vs-rest isotonic is biased under shift


@pytest.mark.parametrize("method", ["isotonic", "platt", "temperature"])
def test_a_calibrator_pickles_keeps_rows_summing_to_one_and_the_model_answers(method):
    rng = np.random.default_rng(1)
    ref_scores, ref_y, _ = _draw(rng, 1500, WEIGHTS, model="biased")
    calibrator = fit_calibrator(ref_scores, ref_y, method=method, bootstraps=3)
    assert len(calibrator.maps) == 4 and calibrator.n_reference == 1500
    scores, y, _ = _draw(rng, 500, WEIGHTS, SHIFT, model="biased")
    again = pickle.loads(pickle.dumps(calibrator))
    np.testing.assert_array_equal(again.apply(scores), calibrator.apply(scores))
    np.testing.assert_allclose(calibrator.apply(scores).sum(axis=1), 1.0)
    est = estimate_performance(scores, calibrator=calibrator)
    # The expected confusion's columns are the model's own answers (argmax of the raw scores).
    np.testing.assert_allclose(np.sum(est.expected_confusion, axis=0), np.bincount(scores.argmax(axis=1), minlength=3))
    assert est.calibration == method
    assert compare_with_labels(est, y, scores).accuracy == pytest.approx(accuracy_score(y, scores.argmax(axis=1)))


def test_the_identity_calibrator_gives_the_raw_estimate():
    p, _ = _window(500, (0.0, 0.0), seed=2)
    assert estimate_performance(p, calibrator=IDENTITY) == estimate_performance(p)


def test_fit_calibrator_names_bad_labels_and_methods():
    p, y = _window(100, (0.0, 0.0), seed=2)
    with pytest.raises(DataError, match="labels: expected class indices in 0..2, got 0..3"):
        fit_calibrator(p, np.where(y == 2, 3, y))
    with pytest.raises(DataError, match="expected 100 labels|got shape"):
        fit_calibrator(p, y[:50])
    with pytest.raises(DataError, match="method: expected auto, isotonic, platt, temperature or identity, got 'beta'"):
        fit_calibrator(p, y, method="beta")


def test_estimation_study_in_bench_shows_the_gain():
    sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))  # after the root: bench/drift.py must not shadow the drift package
    from detection_estimation import estimation_study

    result = estimation_study(seed=1, repeats=8, n_reference=1000, n_window=1000)
    assert result["mae_calibrated"] < 0.02 < result["mae_raw"]
    assert 0.0 <= result["binary_accuracy_coverage"] <= 1.0 and result["binary_method"] == "platt"
