"""Latency percentiles of the candidate against production."""

from __future__ import annotations

import numpy as np

PERCENTILES = (50, 95, 99)


def latency_percentiles(latency_ms: np.ndarray) -> dict[str, float]:
    """p50/p95/p99 of finite latencies in milliseconds (NaN when none).

    Example:
        >>> latency_percentiles(np.arange(1, 101, dtype=float))["p50"]
        50.5
    """
    values = np.asarray(latency_ms, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {f"p{q}": float("nan") for q in PERCENTILES}
    return {f"p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))}


def latency_comparison(production_ms: np.ndarray, candidate_ms: np.ndarray) -> dict[str, float]:
    """Both models' percentiles and the candidate's excess: keys like ``latency_p99_candidate``."""
    prod, cand = latency_percentiles(production_ms), latency_percentiles(candidate_ms)
    out: dict[str, float] = {}
    for key in prod:
        out[f"latency_{key}_production"] = prod[key]
        out[f"latency_{key}_candidate"] = cand[key]
        out[f"latency_{key}_added"] = cand[key] - prod[key]
    return out
