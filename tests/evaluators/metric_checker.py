"""One shared check of every metric against an independent reference.

``check_metric`` scores several random prediction sets with a Vigil metric and
with its reference (scikit-learn, or a plain loop where scikit-learn has none),
and also checks that the metric's bootstrap fast path on row multiplicities
equals the metric on explicitly repeated rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evaluators.metrics import get_metric

Reference = Callable[[np.ndarray, np.ndarray], float]


def classification_cases(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Named (y_true, probabilities) sets: binary, multiclass, ties, classes missing."""
    rng = np.random.default_rng(seed)
    cases = []
    for name, n, k in [("binary", 300, 2), ("multiclass", 400, 5), ("small", 17, 3)]:
        y = rng.integers(0, k, n)
        logits = rng.normal(size=(n, k))
        logits[np.arange(n), y] += 1.0
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        cases.append((name, y, probs))
    y = rng.integers(0, 4, 250)
    coarse = np.round(rng.dirichlet(np.ones(4), 250), 1) + 1e-3
    cases.append(("ties", y, coarse / coarse.sum(axis=1, keepdims=True)))
    # A slice where classes 1 and 3 of 5 never occur, though the model predicts them.
    y = rng.choice([0, 2, 4], 200)
    cases.append(("missing_classes", y, rng.dirichlet(np.ones(5), 200)))
    return cases


def regression_cases(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Named (y_true, y_pred) sets of a few sizes and scales."""
    rng = np.random.default_rng(seed)
    cases = []
    for name, n, scale in [("unit", 300, 1.0), ("large_offset", 200, 1e3), ("small", 9, 0.1)]:
        y = rng.normal(loc=scale * 5, scale=scale, size=n)
        cases.append((name, y, y + rng.normal(scale=scale / 2, size=n)))
    return cases


def check_metric(name: str, task: str, reference: Reference, *, rtol: float = 1e-9) -> None:
    """Assert ``name`` matches ``reference`` on every case and its resample path matches repeats."""
    metric = get_metric(name, task)
    cases = classification_cases() if task == "classification" else regression_cases()
    rng = np.random.default_rng(1)
    for case, y_true, scores in cases:
        expected = reference(y_true, scores)
        np.testing.assert_allclose(metric(y_true, scores), expected, rtol=rtol, atol=1e-12, err_msg=case)
        counts = rng.multinomial(len(y_true), np.full(len(y_true), 1 / len(y_true)), size=3).astype(float)
        fast = metric.resampled(y_true, scores)(counts)
        slow = [metric(np.repeat(y_true, c.astype(int)), np.repeat(scores, c.astype(int), axis=0)) for c in counts]
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, err_msg=f"{case}: resampled")
