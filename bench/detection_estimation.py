"""Label-free performance estimation under covariate shift: calibrated vs raw probabilities.

Ground truth by simulation: x ~ N(0, I) on the reference and N(centre, I) on the
window (covariate shift: P(y | x) does not move). The true law is a logistic
(binary) or softmax (3 classes) of ``x @ W``; the model reports the same with its
logits multiplied by 2 (overconfident) or, for ``biased``, shifted by +1 on class 1.
Each repeat draws a fresh labelled reference (to fit the calibrator) and a fresh
window, estimates accuracy and macro-F1 without the window's labels, and compares
with the realised values.

Usage: ``python bench/detection_estimation.py`` prints the study and, last,
``estimation_mae_calibrated: <value>``. Other bench scripts may import
:func:`estimation_study` (with ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drift.calibration import fit_calibrator  # noqa: E402
from drift.performance_estimation import compare_with_labels, estimate_performance  # noqa: E402

BINARY = np.array([[0.0, 0.0], [1.5, -1.0]])
MULTICLASS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])
SHIFT = (1.0, -0.8)
REFERENCE_ROWS = (300, 600, 1000, 2000, 5000)
METHODS = ("temperature", "platt", "isotonic")
MODELS = ("overconfident", "biased", "warped")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def simulate(
    rng: np.random.Generator, n: int, weights: np.ndarray, centre: tuple[float, float] = (0.0, 0.0), model: str = "overconfident",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``x ~ N(centre, I)``: the model's scores, the labels, and the true probabilities.

    ``model``: ``calibrated`` (reports the true law), ``overconfident`` (logits × 2) or
    ``biased`` (class-1 logit + 1).
    """
    x = rng.normal(centre, 1.0, size=(n, weights.shape[1]))
    logits = x @ weights.T
    truth = _softmax(logits)
    y = np.minimum((rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1), len(weights) - 1)
    if model == "overconfident":
        logits = 2 * logits
    elif model == "biased":
        logits = logits + np.eye(len(weights))[1]
    elif model == "warped":
        logits = logits - logits[:, :1]
        logits = np.sign(logits) * np.abs(logits) ** 1.7
    return _softmax(logits), y, truth


def estimation_study(
    seed: int = 0, repeats: int = 100, n_reference: int = 2000, n_window: int = 2000, model: str = "overconfident",
) -> dict[str, float | str]:
    """Estimate vs realised accuracy and macro-F1 over ``repeats`` shifted windows, binary and 3-class.

    Returns:
        Per case (``binary``, ``multiclass``): mean absolute accuracy error with the
        calibrator (``*_mae_calibrated``) and with raw scores (``*_mae_raw``), the
        macro-F1 error with the calibrator, and the share of windows whose realised
        accuracy / macro-F1 fell inside the 95% interval (``*_coverage``); ``mae_calibrated``
        and ``mae_raw`` average the two cases; ``seconds`` the time it took.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    out: dict[str, float | str] = {}
    for case, weights in (("binary", BINARY), ("multiclass", MULTICLASS)):
        cal_err, raw_err, f1_err, acc_in, f1_in = [], [], [], [], []
        for r in range(repeats):
            ref_scores, ref_y, _ = simulate(rng, n_reference, weights, model=model)
            scores, y, _ = simulate(rng, n_window, weights, SHIFT, model=model)
            calibrator = fit_calibrator(ref_scores, ref_y, seed=r)
            est = estimate_performance(scores, calibrator=calibrator, resamples=100, seed=r)
            check = compare_with_labels(est, y, scores)
            raw = estimate_performance(scores, resamples=10, seed=r)
            cal_err.append(abs(est.accuracy - check.accuracy))
            raw_err.append(abs(raw.accuracy - check.accuracy))
            f1_err.append(abs(est.macro_f1 - check.macro_f1))
            acc_in.append(check.accuracy_within)
            f1_in.append(check.macro_f1_within)
        out[f"{case}_mae_calibrated"] = float(np.mean(cal_err))
        out[f"{case}_mae_raw"] = float(np.mean(raw_err))
        out[f"{case}_f1_mae_calibrated"] = float(np.mean(f1_err))
        out[f"{case}_accuracy_coverage"] = float(np.mean(acc_in))
        out[f"{case}_f1_coverage"] = float(np.mean(f1_in))
        out[f"{case}_method"] = calibrator.method
        out[f"{case}_mae_raw_minus_calibrated"] = float(np.mean(raw_err) - np.mean(cal_err))
    out["mae_calibrated"] = float(np.mean([out["binary_mae_calibrated"], out["multiclass_mae_calibrated"]]))
    out["mae_raw"] = float(np.mean([out["binary_mae_raw"], out["multiclass_mae_raw"]]))
    out["seconds"] = time.perf_counter() - start
    return out


def method_study(seed: int = 0, repeats: int = 60, n_window: int = 2000) -> dict[tuple[str, str, int, str], float]:
    """Mean |estimated − expected accuracy| per (case, model, reference rows, calibration method).

    The target is the window's *expected* accuracy (mean true probability of the predicted
    class), not the realised one, so the window's own sampling noise does not mask the
    calibrator's error.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for case, weights in (("binary", BINARY), ("multiclass", MULTICLASS)):
        for model in MODELS:
            for n_reference in REFERENCE_ROWS:
                errors: dict[str, list[float]] = {m: [] for m in METHODS}
                for _ in range(repeats):
                    ref_scores, ref_y, _ = simulate(rng, n_reference, weights, model=model)
                    scores, _, truth = simulate(rng, n_window, weights, SHIFT, model=model)
                    expected = float(truth[np.arange(n_window), scores.argmax(axis=1)].mean())
                    for method, errs in errors.items():
                        p = fit_calibrator(ref_scores, ref_y, method=method, bootstraps=0).apply(scores)
                        errs.append(abs(float(p[np.arange(n_window), scores.argmax(axis=1)].mean()) - expected))
                for method, errs in errors.items():
                    out[(case, model, n_reference, method)] = float(np.mean(errs))
    return out


if __name__ == "__main__":
    for key, value in method_study().items():
        print("method", *key, f"{value:.4f}")
    for model in ("calibrated", "biased", "warped", "overconfident"):
        result = estimation_study(model=model)
        for key, value in result.items():
            print(model, key, value if isinstance(value, str) else f"{value:.4f}")
    print(f"estimation_mae_calibrated: {result['mae_calibrated']:.4f}")
