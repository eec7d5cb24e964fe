"""Estimate a classifier's accuracy and macro-F1 on a window before its labels arrive.

Idea (confidence-based estimation, as NannyML's CBPE): first the model's raw
probabilities are *calibrated* with a map learned once on the labelled reference
(:func:`drift.calibration.fit_calibrator`: isotonic regression per class, or
temperature scaling on small references). Then a row predicted class c (the argmax
of the *raw* scores, which is what the model answers) is correct with probability
q_c, its calibrated probability of c. Summing the calibrated probabilities gives an
*expected confusion matrix* — for each predicted class c, the expected number of
true class j is the sum of q_j over rows predicted c — and so expected accuracy
(mean of q at the predicted class) and expected per-class F1.

The interval is for the *realised* metric on this window: accuracy is a
Poisson-binomial mean, whose variance ``sum q(1-q) / n^2`` gives a normal interval;
to it is added the variance of the expected accuracy over the calibrator's
alternative maps (``Calibrator.maps[1:]``: Platt parameter draws or bootstrap refits
on the reference — the calibrator's own uncertainty, which dominates when the window
is larger than the reference). Macro-F1 comes from a seeded parametric bootstrap that
draws labels from the calibrated probabilities, each draw under one of the
alternative maps in turn, so both sources are in its quantiles.

When it is unreliable:
    * the reference is not like held-out data: calibrating on the model's *training*
      rows learns its training-set confidence, which is too high;
    * the window's scores fall where the reference had few rows (isotonic maps are
      flat beyond the reference's range; temperature only fixes the logistic shape);
    * concept shift: if P(y | x) changes, the probabilities are wrong in a way no
      label-free method can see; only pure covariate shift (P(x) changes, P(y | x)
      does not) keeps the estimate valid, and then only where the model was
      calibrated for the new x region;
    * tiny windows, where the normal interval for accuracy is poor.
Compare with realised metrics (:func:`compare_with_labels`) whenever labels arrive.

Example:
    >>> import numpy as np
    >>> est = estimate_performance(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    >>> round(est.accuracy, 3)
    0.767
    >>> est.calibration
    'identity'
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from drift.calibration import IDENTITY, Calibrator, fit_calibrator
from suite.errors import DataError
from suite.spec import Frozen

__all__ = ["PerformanceEstimate", "EstimateCheck", "estimate_performance", "compare_with_labels",
           "expected_confusion", "macro_f1_from_confusion", "fit_calibrator", "Calibrator", "IDENTITY"]


class PerformanceEstimate(Frozen):
    """Expected accuracy and macro-F1 of a window, with intervals for their realised values."""

    n: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    macro_f1: float
    macro_f1_low: float
    macro_f1_high: float
    confidence: float
    expected_confusion: list[list[float]]
    calibration: str = "identity"


class EstimateCheck(Frozen):
    """An estimate set against the realised metrics once labels arrived."""

    accuracy: float
    accuracy_estimate: float
    accuracy_within: bool
    macro_f1: float
    macro_f1_estimate: float
    macro_f1_within: bool


def expected_confusion(scores: np.ndarray, predicted: np.ndarray | None = None) -> np.ndarray:
    """Expected confusion matrix (rows: true class, columns: predicted class) from probabilities.

    ``predicted`` (default ``argmax(scores)``) are the classes the model answered.
    """
    n, k = scores.shape
    one_hot = np.zeros((n, k))
    one_hot[np.arange(n), scores.argmax(axis=1) if predicted is None else predicted] = 1.0
    return scores.T @ one_hot


def macro_f1_from_confusion(confusion: np.ndarray) -> float:
    """Macro-F1 from a (possibly fractional) confusion matrix, over classes that occur or are predicted."""
    tp = np.diag(confusion)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    present = denom > 0
    return float(np.mean(2 * tp[present] / denom[present])) if present.any() else 0.0


def estimate_performance(
    scores: np.ndarray, confidence: float = 0.95, resamples: int = 200, seed: int = 0, calibrator: Calibrator | None = None,
) -> PerformanceEstimate:
    """Expected accuracy and macro-F1 of predictions ``argmax(scores)``, from calibrated probabilities.

    Args:
        scores: (n, k) raw class probabilities, rows summing to 1.
        confidence: Coverage of the intervals.
        resamples: Label draws for the macro-F1 interval.
        seed: Seed for those draws.
        calibrator: Fitted on the labelled reference (:func:`fit_calibrator`); None trusts the raw scores.
    """
    raw = np.asarray(scores, dtype=float)
    if raw.ndim != 2 or len(raw) == 0 or not np.allclose(raw.sum(axis=1), 1.0, atol=1e-6):
        raise DataError(f"performance estimate: expected (n, k) probabilities summing to 1, got shape {raw.shape}")
    cal = calibrator or IDENTITY
    n, k = raw.shape
    rows, pred = np.arange(n), raw.argmax(axis=1)
    p = cal.apply(raw)
    top = p[rows, pred]
    accuracy = float(top.mean())
    confusion = expected_confusion(p, pred)

    rng = np.random.default_rng(seed)
    alternatives = cal.maps[1:]
    f1s, alternative_accuracies = np.empty(resamples), []
    draws = np.array_split(np.arange(resamples), max(1, len(alternatives)))
    for i, block in enumerate(draws):
        q = p if not alternatives else alternatives[i].apply(raw)
        if alternatives:
            alternative_accuracies.append(float(q[rows, pred].mean()))
        cum = np.cumsum(q, axis=1)
        for b in block:
            y = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
            f1s[b] = macro_f1_from_confusion(np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(float))
    variance = float(np.sum(top * (1 - top))) / n**2
    if len(alternative_accuracies) > 1:
        variance += float(np.var(alternative_accuracies, ddof=1))
    half = float(norm.ppf(0.5 + confidence / 2)) * np.sqrt(variance)
    alpha = (1 - confidence) / 2
    return PerformanceEstimate(
        n=n, accuracy=accuracy, accuracy_low=max(0.0, accuracy - half), accuracy_high=min(1.0, accuracy + half),
        macro_f1=macro_f1_from_confusion(confusion),
        macro_f1_low=float(np.quantile(f1s, alpha)), macro_f1_high=float(np.quantile(f1s, 1 - alpha)),
        confidence=confidence, expected_confusion=confusion.tolist(), calibration=cal.method,
    )


def compare_with_labels(estimate: PerformanceEstimate, y_true: np.ndarray, scores: np.ndarray) -> EstimateCheck:
    """Realised accuracy and macro-F1 of ``argmax(scores)`` against ``y_true``, and whether each lies
    in the estimate's interval (if not, suspect miscalibration or concept shift)."""
    pred = np.asarray(scores).argmax(axis=1)
    y = np.asarray(y_true, dtype=int)
    k = np.asarray(scores).shape[1]
    if len(y) != len(pred):
        raise DataError(f"compare_with_labels: expected {len(pred)} labels, got {len(y)}")
    accuracy = float(np.mean(pred == y))
    f1 = macro_f1_from_confusion(np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(float))
    return EstimateCheck(
        accuracy=accuracy, accuracy_estimate=estimate.accuracy,
        accuracy_within=estimate.accuracy_low <= accuracy <= estimate.accuracy_high,
        macro_f1=f1, macro_f1_estimate=estimate.macro_f1,
        macro_f1_within=estimate.macro_f1_low <= f1 <= estimate.macro_f1_high,
    )
