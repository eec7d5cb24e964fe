"""Agreement and flips between production's and a candidate's predictions.

Example:
    >>> import numpy as np
    >>> agreement_rate(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]))
    0.75
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def agreements(production: np.ndarray, candidate: np.ndarray, *, tolerance: float = 0.0) -> np.ndarray:
    """Per-row agreement: equal labels, or (regression) outputs within ``tolerance``."""
    production, candidate = np.asarray(production), np.asarray(candidate)
    if production.shape != candidate.shape:
        raise ValueError(f"expected aligned arrays, got shapes {production.shape} and {candidate.shape}")
    if tolerance > 0:
        return np.abs(production.astype(float) - candidate.astype(float)) <= tolerance
    return production == candidate


def agreement_rate(production: np.ndarray, candidate: np.ndarray, *, tolerance: float = 0.0) -> float:
    """Share of rows where the candidate agrees with production (NaN when empty)."""
    agree = agreements(production, candidate, tolerance=tolerance)
    return float(agree.mean()) if agree.size else float("nan")


def flip_rate(production: np.ndarray, candidate: np.ndarray, *, tolerance: float = 0.0) -> float:
    """Share of rows where the candidate's answer differs from production's."""
    return 1.0 - agreement_rate(production, candidate, tolerance=tolerance)


def flip_rate_by_group(flips: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Flip rate and row count per group value (a slice, or production's predicted class).

    Returns:
        A frame with columns ``group``, ``flip_rate``, ``flips``, ``n``, sorted by group.
    """
    frame = pd.DataFrame({"group": np.asarray(groups), "flip": np.asarray(flips, dtype=float)})
    out = frame.groupby("group", sort=True, observed=True)["flip"].agg(["mean", "sum", "size"]).reset_index()
    out.columns = ["group", "flip_rate", "flips", "n"]
    out["flips"] = out["flips"].astype("int64")
    return out
