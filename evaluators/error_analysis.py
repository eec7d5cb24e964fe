"""Where the candidate is worse than the baseline, and which examples it newly gets wrong.

Regions are slices of a categorical column or quantile bins of a numeric one.
Each region gets a significance-aware score ``z`` (positive: candidate worse):

* classification: the McNemar z ``(c - b) / sqrt(b + c)`` from the region's
  discordant pairs (``c`` newly wrong, ``b`` newly right), with the exact
  one-sided McNemar p-value;
* regression: the paired mean of ``|err_cand| - |err_base|`` over its standard
  error, with a one-sided normal p-value.

Ranking by ``z`` rather than by the raw difference keeps a tiny region with one
unlucky example from outranking a large region with a real regression.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from evaluators.normal import norm_sf
from evaluators.statistics import mcnemar_exact

REGION_COLUMNS = ["family", "region", "n", "cand_error", "base_error", "diff", "newly_wrong", "newly_right", "z", "p_value"]


def _predicted(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores)
    return np.argmax(scores, axis=1) if scores.ndim == 2 else scores


def _regions(values: pd.Series, bins: int) -> list[tuple[str, np.ndarray]]:
    """(label, mask) per value of a categorical column or per quantile bin ``[lo,hi)`` of a numeric one."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > bins:
        x = values.to_numpy(dtype=float)
        edges = np.unique(np.nanquantile(x, np.linspace(0, 1, bins + 1)))
        out = []
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            last = i == len(edges) - 2
            mask = (x >= lo) & ((x <= hi) if last else (x < hi))
            out.append((f"[{lo:.4g},{hi:.4g}{']' if last else ')'}", mask))
        return out
    return [(str(v), (values == v).to_numpy()) for v in sorted(values.dropna().unique(), key=str)]


def worst_regions(
    features: pd.DataFrame,
    y_true: np.ndarray,
    scores_cand: np.ndarray,
    scores_base: np.ndarray,
    *,
    columns: Sequence[str] | None = None,
    bins: int = 5,
    min_n: int = 10,
) -> pd.DataFrame:
    """Regions where the candidate is worst relative to the baseline, most significant first.

    Args:
        features: One row per example, aligned with the arrays; the columns to slice by.
        y_true: Labels (classification) or targets (regression).
        scores_cand: Candidate output: ``(n, k)`` probabilities or ``(n,)`` values.
        scores_base: Baseline output on the same examples.
        columns: Columns to slice by; all of ``features`` except ``sample_id`` by default.
        bins: Quantile bins for numeric columns with more than ``bins`` distinct values.
        min_n: Regions with fewer examples are left out.

    Returns:
        One row per region with columns ``family, region, n, cand_error, base_error,
        diff, newly_wrong, newly_right, z, p_value``, sorted by ``z`` descending.
        Error is 1 − accuracy for classification and mean absolute error for regression.
    """
    err_c, err_b = row_errors(y_true, scores_cand, scores_base)
    names = list(columns) if columns is not None else [c for c in features.columns if c != "sample_id"]
    return regions_by_column(lambda name: features[name].reset_index(drop=True), names, err_c, err_b, bins=bins, min_n=min_n)


def row_errors(y_true: np.ndarray, scores_cand: np.ndarray, scores_base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's error under the candidate and the baseline: wrong (bool) for classification, absolute error for regression.

    Computed a chunk at a time and concatenated (or written into place), they are all :func:`regions_by_column` needs of the predictions.
    """
    y = np.asarray(y_true)
    if np.asarray(scores_cand).ndim == 2:
        return _predicted(scores_cand) != y, _predicted(scores_base) != y
    return np.abs(np.asarray(scores_cand, float) - y), np.abs(np.asarray(scores_base, float) - y)


def regions_by_column(
    column: Callable[[str], pd.Series], names: Sequence[str], err_c: np.ndarray, err_b: np.ndarray, *, bins: int = 5, min_n: int = 10,
) -> pd.DataFrame:
    """:func:`worst_regions` from the rows' errors (:func:`row_errors`), each column fetched when its regions are formed.

    Args:
        column: ``name -> (n,)`` values of that column, aligned with the errors (read one at a time: a
            dataset's features never need to be held together).
        names: The columns to slice by, in order.
        err_c: The candidate's per-row errors (bool: classification; float: regression).
        err_b: The baseline's.
    """
    classification = err_c.dtype == bool
    rows = []
    for name in names:
        for label, mask in _regions(column(name), bins):
            n = int(mask.sum())
            if n < min_n:
                continue
            rows.append({"family": name, "region": label, "n": n, **_score(err_c[mask].astype(float), err_b[mask].astype(float), classification)})
    frame = pd.DataFrame(rows, columns=REGION_COLUMNS)
    return frame.sort_values(["z", "n"], ascending=[False, False], ignore_index=True)


def _score(err_c: np.ndarray, err_b: np.ndarray, classification: bool) -> dict[str, float]:
    out = {"cand_error": float(err_c.mean()), "base_error": float(err_b.mean()), "diff": float(err_c.mean() - err_b.mean())}
    if classification:
        from scipy.stats import binom  # only a suite with a baseline has regions; scipy.stats costs ~0.5 s of CPU to import

        test = mcnemar_exact(err_b == 0, err_c == 0)  # a = baseline right, b = candidate right
        newly_wrong, newly_right = test.b, test.c
        z = (newly_wrong - newly_right) / math.sqrt(newly_wrong + newly_right) if newly_wrong + newly_right else 0.0
        p = float(binom.sf(newly_wrong - 1, newly_wrong + newly_right, 0.5)) if newly_wrong + newly_right else 1.0
        return {**out, "newly_wrong": newly_wrong, "newly_right": newly_right, "z": z, "p_value": p}
    d = err_c - err_b
    se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
    z = float(d.mean() / se) if se > 0 else 0.0
    return {**out, "newly_wrong": 0, "newly_right": 0, "z": z, "p_value": float(norm_sf(z))}


def newly_wrong(
    sample_ids: np.ndarray,
    y_true: np.ndarray,
    scores_cand: np.ndarray,
    scores_base: np.ndarray,
    *,
    tolerance: float | None = None,
) -> pd.DataFrame:
    """Examples the baseline gets right and the candidate gets wrong, most confidently wrong first.

    Args:
        sample_ids: Ids of the examples, aligned with the arrays.
        y_true: Labels or targets.
        scores_cand: Candidate output, ``(n, k)`` probabilities or ``(n,)`` values.
        scores_base: Baseline output.
        tolerance: Regression only: an absolute error above it counts as wrong.

    Returns:
        Columns ``sample_id, y_true, pred_candidate, pred_baseline, confidence``
        where confidence is the candidate's probability of its (wrong) prediction,
        or its absolute error for regression.
    """
    y = np.asarray(y_true)
    cand, base = np.asarray(scores_cand), np.asarray(scores_base)
    if cand.ndim == 2:
        pred_c, pred_b = _predicted(cand), _predicted(base)
        mask = (pred_c != y) & (pred_b == y)
        confidence = cand[np.arange(len(y)), pred_c]
    else:
        if tolerance is None:
            raise ValueError("regression outputs need a tolerance to tell right from wrong")
        pred_c, pred_b = cand, base
        mask = (np.abs(cand - y) > tolerance) & (np.abs(base - y) <= tolerance)
        confidence = np.abs(cand - y)
    frame = pd.DataFrame({
        "sample_id": np.asarray(sample_ids)[mask],
        "y_true": y[mask],
        "pred_candidate": pred_c[mask],
        "pred_baseline": pred_b[mask],
        "confidence": confidence[mask],
    })
    return frame.sort_values(["confidence", "sample_id"], ascending=[False, True], ignore_index=True)


class NewlyWrongTop:
    """:func:`newly_wrong`'s first ``limit`` rows, from predictions added a chunk at a time (the rest are never kept).

    Example:
        >>> top = NewlyWrongTop(limit=1)
        >>> y = np.array([0, 0])
        >>> top.add(np.array([7, 8]), y, np.array([[0.4, 0.6], [0.1, 0.9]]), np.array([[0.9, 0.1], [0.8, 0.2]]))
        >>> top.frame()["sample_id"].tolist()
        [8]
    """

    def __init__(self, limit: int, tolerance: float | None = None) -> None:
        self.limit, self.tolerance = limit, tolerance
        self._top = pd.DataFrame()

    def add(self, sample_ids: np.ndarray, y_true: np.ndarray, scores_cand: np.ndarray, scores_base: np.ndarray) -> None:
        """Merge a chunk's newly wrong rows, keeping the ``limit`` most confident (ties by sample id, as :func:`newly_wrong` orders them)."""
        found = newly_wrong(sample_ids, y_true, scores_cand, scores_base, tolerance=self.tolerance).head(self.limit)
        both = found if self._top.empty else pd.concat([self._top, found], ignore_index=True)
        self._top = both.sort_values(["confidence", "sample_id"], ascending=[False, True], ignore_index=True).head(self.limit)

    def frame(self) -> pd.DataFrame:
        """The rows kept, in :func:`newly_wrong`'s order (its empty frame when none were found)."""
        return self._top if not self._top.empty else newly_wrong(np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, 2)), np.empty((0, 2)))
