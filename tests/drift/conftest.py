"""Seeded synthetic frames shared by the drift tests."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _quiet_scipy():
    # Evidently's chi-square divides by zero expected counts for new categories, by design.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def mixed_frames(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current with a shifted, a rescaled, a steady numeric column, a categorical
    column with a new level, a steady categorical column and a steady binary column."""
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({
        "shifted": rng.normal(size=n),
        "wider": rng.normal(size=n),
        "steady": rng.exponential(size=n),
        "cat_new": rng.choice(list("abc"), n),
        "cat_steady": rng.choice(list("pqrs"), n),
        "binary": rng.choice(["yes", "no"], n),
    })
    cur = pd.DataFrame({
        "shifted": rng.normal(0.4, 1.0, size=n),
        "wider": rng.normal(0.0, 1.6, size=n),
        "steady": rng.exponential(size=n),
        "cat_new": rng.choice(list("abcd"), n, p=[0.3, 0.3, 0.2, 0.2]),
        "cat_steady": rng.choice(list("pqrs"), n),
        "binary": rng.choice(["yes", "no"], n),
    })
    return ref, cur
