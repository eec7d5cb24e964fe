"""Estimate a classifier's accuracy and macro-F1 on a window before its labels arrive.

Idea (confidence-based estimation): if the model is calibrated, a row whose
predicted class has probability p is correct with probability p. Summing the
probabilities gives an *expected confusion matrix* — for each predicted class c,
the expected number of true class j is the sum of P(j) over rows predicted c —
and so expected accuracy (mean of the top probability) and expected per-class
F1. The interval is for the *realised* metric on this window: accuracy is a
Poisson-binomial mean, whose variance ``sum p(1-p) / n^2`` gives a normal
interval; macro-F1 comes from a seeded parametric bootstrap that draws labels
from the predicted probabilities.

When it is unreliable:
    * the model is not calibrated on the current population (check calibration on
      the reference first; recalibrate if not) — estimates inherit every bias in p;
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
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from suite.errors import DataError
from suite.spec import Frozen


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


class EstimateCheck(Frozen):
    """An estimate set against the realised metrics once labels arrived."""

    accuracy: float
    accuracy_estimate: float
    accuracy_within: bool
    macro_f1: float
    macro_f1_estimate: float
    macro_f1_within: bool


def expected_confusion(scores: np.ndarray) -> np.ndarray:
    """Expected confusion matrix (rows: true class, columns: predicted class) from probabilities."""
    n, k = scores.shape
    one_hot = np.zeros((n, k))
    one_hot[np.arange(n), scores.argmax(axis=1)] = 1.0
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
    scores: np.ndarray, confidence: float = 0.95, resamples: int = 200, seed: int = 0
) -> PerformanceEstimate:
    """Expected accuracy and macro-F1 of predictions ``argmax(scores)`` from calibrated probabilities.

    Args:
        scores: (n, k) class probabilities, rows summing to 1.
        confidence: Coverage of the intervals.
        resamples: Label draws for the macro-F1 interval.
        seed: Seed for those draws.
    """
    p = np.asarray(scores, dtype=float)
    if p.ndim != 2 or len(p) == 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise DataError(f"performance estimate: expected (n, k) probabilities summing to 1, got shape {p.shape}")
    n, k = p.shape
    pred = p.argmax(axis=1)
    top = p[np.arange(n), pred]
    accuracy = float(top.mean())
    z = float(norm.ppf(0.5 + confidence / 2))
    half = z * float(np.sqrt(np.sum(top * (1 - top)))) / n
    confusion = expected_confusion(p)

    rng = np.random.default_rng(seed)
    cum = np.cumsum(p, axis=1)
    f1s = np.empty(resamples)
    for b in range(resamples):
        y = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
        f1s[b] = macro_f1_from_confusion(np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(float))
    alpha = (1 - confidence) / 2
    return PerformanceEstimate(
        n=n, accuracy=accuracy, accuracy_low=max(0.0, accuracy - half), accuracy_high=min(1.0, accuracy + half),
        macro_f1=macro_f1_from_confusion(confusion),
        macro_f1_low=float(np.quantile(f1s, alpha)), macro_f1_high=float(np.quantile(f1s, 1 - alpha)),
        confidence=confidence, expected_confusion=confusion.tolist(),
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
