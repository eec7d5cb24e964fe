"""Expected calibration error over 15 equal-width confidence bins.

Confidence is the maximum probability of a row. Bin ``b`` holds confidences in
``(b/15, (b+1)/15]`` (the lowest bin also holds 0). ECE is the sum over bins of
the bin's share of rows times ``|accuracy - mean confidence|`` in the bin,
which equals ``sum_b |sum_{i in b} (correct_i - conf_i)| / n``.
"""

from __future__ import annotations

import numpy as np

from evaluators.metrics.base import METRICS, Metric

BINS = 15


def _gap_by_bin(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(n, 15)``: each row's ``correct - confidence`` in its bin's column, zeros elsewhere (one pass for the argmax)."""
    rows = np.arange(len(scores))
    predicted = scores.argmax(axis=1)
    confidence = scores[rows, predicted].astype(np.float64)  # the row's maximum
    bin_index = np.clip(np.ceil(confidence * BINS).astype(np.int64) - 1, 0, BINS - 1)
    gaps = np.zeros((len(scores), BINS))
    gaps[rows, bin_index] = (predicted == y_true) - confidence
    return gaps


def _ece(sums: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.abs(sums).sum(axis=1) / total


ECE = METRICS.register(
    "ece",
    Metric.from_row_sums(
        name="ece", task="classification", higher_is_better=False, version="1",
        rows=_gap_by_bin, reduce=_ece,
    ),
)
