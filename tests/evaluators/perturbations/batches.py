"""Test batches for every perturbation family and a strength measure per family."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluators.perturbations import PERTURBATIONS, PerturbationContext, context_from_frame

WORDS = "the quick brown fox jumps over a lazy dog model 1010 clear modern vivid Sensor OK".split()
IMAGE_SHAPE = (6, 5, 2)


def batch(kind: str, n: int, seed: int) -> tuple[np.ndarray, PerturbationContext]:
    """A batch of ``n`` rows suited to ``kind`` and its context (reference = the batch itself)."""
    rng = np.random.default_rng(seed)
    family = PERTURBATIONS.get(kind).family
    if family == "tabular" and kind in ("category_typos", "unseen_categories"):
        levels = np.array(["red", "green", "blue", "yellow", "moss"], dtype=object)
        values = levels[rng.integers(0, 5, size=(n, 3))]
        return values, context_from_frame(pd.DataFrame(values, columns=list("abc")), list("abc"), ["a", "c"])
    if family == "tabular":
        values = rng.normal(size=(n, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 50.0, -1.0, 7.0]
        columns = ["x0", "x2"] if kind == "feature_swap" else ["x0", "x1", "x3"]
        names = [f"x{i}" for i in range(4)]
        return values, context_from_frame(pd.DataFrame(values, columns=names), names, columns)
    if family == "image":
        values = rng.uniform(0.0, 255.0, size=(n, int(np.prod(IMAGE_SHAPE))))
        return values, PerturbationContext(image_shape=IMAGE_SHAPE, value_range=(0.0, 255.0))
    if family == "series":
        values = np.cumsum(rng.normal(size=(n, 24)), axis=1)
        return values, PerturbationContext(value_std=float(values.std()) if values.size else 1.0)
    if family == "text":
        lengths = rng.integers(0, 9, size=n)
        values = np.array([" ".join(rng.choice(WORDS, size=k)) for k in lengths], dtype=object)
        return values, PerturbationContext()
    return rng.integers(0, 4, size=n), PerturbationContext(num_classes=4)


def levenshtein(a: str, b: str) -> int:
    """Plain dynamic-programming edit distance (insert, delete, substitute)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def strength(before: np.ndarray, after: np.ndarray) -> float:
    """How far ``after`` is from ``before``: mean |change| (NaN appearing counts 1) or mean edit distance."""
    if before.dtype == object:
        return float(np.mean([levenshtein(str(a), str(b)) for a, b in zip(before.ravel(), after.ravel())]))
    x, y = before.astype(np.float64), after.astype(np.float64)
    nan_changed = np.isnan(x) != np.isnan(y)
    diff = np.where(np.isnan(x) | np.isnan(y), nan_changed.astype(np.float64), np.abs(y - x))
    return float(diff.mean())


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality, NaN equal to NaN, and dtype equal."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return a.tolist() == b.tolist()
    return bool(np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating)))
