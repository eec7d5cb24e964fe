"""Score differences and rank agreement between production and a candidate.

For classification the score compared on each row is the probability both
models give to the class production predicted (the confidence production
acted on); for regression it is the output itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ScoreDeltas:
    """Candidate minus production score: mean signed, mean absolute and 95th-percentile absolute."""

    mean: float
    mean_abs: float
    p95_abs: float


def compared_scores(production: np.ndarray, candidate: np.ndarray, production_pred: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The per-row values compared: production's chosen class's probability, or the outputs."""
    production, candidate = np.asarray(production, float), np.asarray(candidate, float)
    if production.shape != candidate.shape:
        raise ValueError(f"expected aligned score arrays, got shapes {production.shape} and {candidate.shape}")
    if production.ndim == 1:
        return production, candidate
    chosen = production.argmax(axis=1) if production_pred is None else np.asarray(production_pred, int)
    rows = np.arange(len(production))
    return production[rows, chosen], candidate[rows, chosen]


def score_deltas(production: np.ndarray, candidate: np.ndarray, production_pred: np.ndarray | None = None) -> ScoreDeltas:
    """Summaries of ``candidate - production`` over rows.

    Example:
        >>> import numpy as np
        >>> score_deltas(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
        ScoreDeltas(mean=-0.25, mean_abs=0.75, p95_abs=0.975)
    """
    p, c = compared_scores(production, candidate, production_pred)
    if p.size == 0:
        return ScoreDeltas(float("nan"), float("nan"), float("nan"))
    delta = c - p
    return ScoreDeltas(float(delta.mean()), float(np.abs(delta).mean()), float(np.percentile(np.abs(delta), 95)))


def rank_correlation(production: np.ndarray, candidate: np.ndarray) -> float:
    """Spearman rank correlation of scores across rows.

    For ``(n, k)`` scores, the mean over classes of each class column's
    correlation (binary tasks: the positive class only). NaN when a column is
    constant or there are fewer than 3 rows.
    """
    production, candidate = np.asarray(production, float), np.asarray(candidate, float)
    if len(production) < 3:
        return float("nan")
    if production.ndim == 1:
        return _spearman(production, candidate)
    columns = [1] if production.shape[1] == 2 else range(production.shape[1])
    values = [_spearman(production[:, k], candidate[:, k]) for k in columns]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)
