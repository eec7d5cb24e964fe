"""Replay comparison: a candidate's answers against production's on the same logged requests.

:func:`replay_compare` takes a validated request log (see
``evaluators.shadow.request_log``) and the candidate's outputs and
latencies for its rows, in order, and returns a :class:`ShadowReport` whose
tables are long frames ready to store as results and time series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from evaluators.shadow.agreement import agreements, flip_rate_by_group
from evaluators.shadow.latency import latency_comparison
from evaluators.shadow.paired import ci_method, mcnemar_exact, paired_bootstrap_diff, wilson_interval
from evaluators.shadow.scores import rank_correlation, score_deltas
from evaluators.shadow.request_log.format import CANDIDATE_STATUS, LABEL, LATENCY_MS, TIMESTAMP, candidate_answered, candidate_outputs
from evaluators.shadow.request_log.reader import LogCounts, ParsedLog
from evaluators.shadow.slices import slice_labels
from suite.errors import DataError
from suite.spec import BootstrapSpec, SliceSpec

VERSION = "1"
METRIC_COLUMNS = ["slice", "metric", "value", "ci_low", "ci_high", "n"]
WINDOW_COLUMNS = ["window_start", "metric", "value", "ci_low", "ci_high", "n"]
RATE_METRICS = ("agreement_rate", "flip_rate", "accuracy_production", "accuracy_candidate")
"""Shadow metrics whose interval is Wilson's for a proportion."""


def row_ci_method(metric: str, n: int) -> str | None:
    """How the interval of a shadow metric over ``n`` rows is made (stored as ``ci_method``); None without one."""
    if metric in RATE_METRICS:
        return "wilson"
    if metric in ("accuracy_diff", "mae_diff"):
        return ci_method(n, correctness=metric == "accuracy_diff")
    return None
_FLOOR = {"hour": "h", "day": "D"}
Row = tuple[str, float, float, float, int]


@dataclass(frozen=True)
class ShadowReport:
    """What a shadow replay found.

    Attributes:
        metrics: long frame (slice, metric, value, ci_low, ci_high, n): overall metrics under
            slice ``all``, flip rates per slice and per production-predicted class
            (``production_class=<k>``).
        windows: long frame (window_start, metric, value, ci_low, ci_high, n), one block per
            hour or day; empty when no window was asked for.
        counts: the log's row counts, quarantine included.
        task: ``classification`` or ``regression``.
        window: ``hour``, ``day`` or None.
        version: version of these comparisons, stored with the results.
    """

    metrics: pd.DataFrame
    windows: pd.DataFrame
    counts: LogCounts
    task: str
    window: str | None
    version: str = VERSION

    def value(self, metric: str, slice: str = "all") -> float:
        """One metric's value (KeyError when it was not computed)."""
        hit = self.metrics[(self.metrics["metric"] == metric) & (self.metrics["slice"] == slice)]
        if hit.empty:
            raise KeyError(f"{metric} @ {slice}")
        return float(hit["value"].iloc[0])


def replay_compare(
    parsed_log: ParsedLog,
    candidate_outputs: np.ndarray,
    candidate_latency_ms: np.ndarray,
    *,
    task: Literal["classification", "regression"],
    window: Literal["hour", "day"] | None = None,
    slices: Sequence[SliceSpec] = (),
    tolerance: float = 0.0,
    bootstrap: BootstrapSpec = BootstrapSpec(),
    seed: int = 0,
) -> ShadowReport:
    """Compare a candidate with production on every scored row of a request log.

    Args:
        parsed_log: the validated log; rows are matched to ``candidate_outputs`` by position.
        candidate_outputs: classification: ``(n, k)`` probabilities or ``(n,)`` labels;
            regression: ``(n,)`` values.
        candidate_latency_ms: ``(n,)`` candidate latencies.
        task: the suite's task.
        window: also compute per-hour or per-day results from ``timestamp``.
        slices: slice families for per-slice flip rates.
        tolerance: regression only: outputs within this distance agree.
        bootstrap: resamples and confidence for the paired accuracy difference.
        seed: seed of the bootstrap.
    """
    frame = parsed_log.frame
    n = len(frame)
    candidate_outputs = np.asarray(candidate_outputs)
    candidate_latency_ms = np.asarray(candidate_latency_ms, float)
    if len(candidate_outputs) != n or len(candidate_latency_ms) != n:
        raise DataError(
            f"shadow replay: expected {n} candidate outputs and latencies (one per scored row), "
            f"got {len(candidate_outputs)} and {len(candidate_latency_ms)}"
        )
    if window is not None and window not in _FLOOR:
        raise DataError(f"shadow replay: window: expected one of {sorted(_FLOOR)}, got {window!r}")
    rows = _Rows.build(parsed_log, candidate_outputs, candidate_latency_ms, task)
    everything = np.ones(n, bool)
    metrics = [("all", *r) for r in _core(rows, everything, bootstrap, seed, tolerance)]
    flips = ~agreements(rows.prod_pred, rows.cand_pred, tolerance=tolerance)
    if task == "classification":
        groups = np.array([f"production_class={int(k)}" for k in rows.prod_pred], dtype=object)
        metrics += _flip_rows(flips, groups, bootstrap.confidence)
    for spec in slices:
        labels = slice_labels(frame, spec).to_numpy()
        present = np.array([v is not None for v in labels], bool)
        metrics += _flip_rows(flips[present], labels[present], bootstrap.confidence)
    windows = pd.DataFrame(columns=WINDOW_COLUMNS)
    if window is not None and n:
        starts = frame[TIMESTAMP].dt.floor(_FLOOR[window]).to_numpy()
        blocks = [
            pd.DataFrame([(start, *r) for r in _core(rows, starts == start, bootstrap, seed, tolerance)], columns=WINDOW_COLUMNS)
            for start in np.unique(starts)
        ]
        windows = pd.concat(blocks, ignore_index=True)
        windows["window_start"] = pd.to_datetime(windows["window_start"], utc=True)
    return ShadowReport(pd.DataFrame(metrics, columns=METRIC_COLUMNS), windows, parsed_log.counts, task, window)


def logged_candidate(parsed_log: ParsedLog, task: str = "classification") -> tuple[ParsedLog, np.ndarray, np.ndarray]:
    """The rows of a mirror log where the candidate answered, with its logged outputs and latencies.

    Returns:
        The log restricted to those rows (its ``counts`` still describe the whole file), the
        candidate's outputs (``(n, k)`` scores for classification, else predictions) and latencies,
        ready for :func:`replay_compare`.
    """
    frame = parsed_log.frame
    if CANDIDATE_STATUS not in frame:
        raise DataError(f"shadow log: expected {CANDIDATE_STATUS} and candidate_* columns (a mirror log read with mirror=True), got none")
    kept = frame.loc[candidate_answered(frame)].reset_index(drop=True)
    outputs, latency = candidate_outputs(kept, task)
    return replace(parsed_log, frame=kept), outputs, latency


@dataclass(frozen=True)
class _Rows:
    task: str
    prod_pred: np.ndarray
    cand_pred: np.ndarray
    prod_scores: np.ndarray | None
    cand_scores: np.ndarray | None
    prod_latency: np.ndarray
    cand_latency: np.ndarray
    label: np.ndarray | None

    @classmethod
    def build(cls, log: ParsedLog, outputs: np.ndarray, latency: np.ndarray, task: str) -> _Rows:
        frame = log.frame
        prod_scores = log.production_scores()
        label = frame[LABEL].to_numpy(dtype=float) if LABEL in frame else None
        if task == "classification":
            prod_pred = np.asarray(log.production_predictions(), int)
            if outputs.ndim == 2:
                cand_scores, cand_pred = outputs.astype(float), outputs.argmax(axis=1)
            else:
                cand_scores, cand_pred = None, outputs.astype(int)
            if prod_scores is not None and cand_scores is not None and prod_scores.shape != cand_scores.shape:
                raise DataError(f"shadow replay: expected candidate scores of shape {prod_scores.shape}, got {cand_scores.shape}")
        else:
            prod_pred = np.asarray(log.production_predictions(), float)
            cand_pred = outputs.astype(float).reshape(-1)
            prod_scores, cand_scores = prod_pred, cand_pred
        return cls(task, prod_pred, cand_pred, prod_scores, cand_scores, frame[LATENCY_MS].to_numpy(float), latency, label)


def _core(rows: _Rows, mask: np.ndarray, bootstrap: BootstrapSpec, seed: int, tolerance: float) -> list[Row]:
    """Metrics for the rows under ``mask``: agreement, scores, latency, and label-based comparisons."""
    conf = bootstrap.confidence
    n = int(mask.sum())
    agree = agreements(rows.prod_pred[mask], rows.cand_pred[mask], tolerance=tolerance)
    k = int(agree.sum())
    out: list[Row] = [
        ("agreement_rate", k / n if n else float("nan"), *wilson_interval(k, n, conf), n),
        ("flip_rate", (n - k) / n if n else float("nan"), *_flip_ci(k, n, conf), n),
    ]
    if rows.prod_scores is not None and rows.cand_scores is not None:
        chosen = rows.prod_pred[mask] if rows.task == "classification" else None
        deltas = score_deltas(rows.prod_scores[mask], rows.cand_scores[mask], chosen)
        out += [(f"score_delta_{name}", value, np.nan, np.nan, n) for name, value in vars(deltas).items()]
        out.append(("score_spearman", rank_correlation(rows.prod_scores[mask], rows.cand_scores[mask]), np.nan, np.nan, n))
    out += [(name, value, np.nan, np.nan, n) for name, value in latency_comparison(rows.prod_latency[mask], rows.cand_latency[mask]).items()]
    if rows.label is not None:
        out += _labelled(rows, mask & np.isfinite(rows.label), bootstrap, seed)
    return out


def _labelled(rows: _Rows, mask: np.ndarray, bootstrap: BootstrapSpec, seed: int) -> list[Row]:
    n = int(mask.sum())
    if n == 0:
        return []
    conf = bootstrap.confidence
    y = rows.label[mask]
    if rows.task == "classification":
        prod_ok, cand_ok = rows.prod_pred[mask] == y, rows.cand_pred[mask] == y
        diff = paired_bootstrap_diff(cand_ok, prod_ok, resamples=bootstrap.resamples, confidence=conf, seed=seed, correctness=True)
        test = mcnemar_exact(cand_ok, prod_ok)
        return [
            ("accuracy_production", float(prod_ok.mean()), *wilson_interval(int(prod_ok.sum()), n, conf), n),
            ("accuracy_candidate", float(cand_ok.mean()), *wilson_interval(int(cand_ok.sum()), n, conf), n),
            ("accuracy_diff", diff.diff, diff.ci_low, diff.ci_high, n),
            ("mcnemar_p_value", test.p_value, np.nan, np.nan, test.b + test.c),
        ]
    prod_err, cand_err = np.abs(rows.prod_pred[mask] - y), np.abs(rows.cand_pred[mask] - y)
    diff = paired_bootstrap_diff(cand_err, prod_err, resamples=bootstrap.resamples, confidence=conf, seed=seed)
    return [
        ("mae_production", float(prod_err.mean()), np.nan, np.nan, n),
        ("mae_candidate", float(cand_err.mean()), np.nan, np.nan, n),
        ("mae_diff", diff.diff, diff.ci_low, diff.ci_high, n),
    ]


def _flip_ci(agree: int, n: int, confidence: float) -> tuple[float, float]:
    low, high = wilson_interval(n - agree, n, confidence)
    return low, high


def _flip_rows(flips: np.ndarray, groups: np.ndarray, confidence: float) -> list[tuple[str, str, float, float, float, int]]:
    if len(flips) == 0:
        return []
    table = flip_rate_by_group(flips, groups)
    return [
        (str(r.group), "flip_rate", float(r.flip_rate), *wilson_interval(int(r.flips), int(r.n), confidence), int(r.n))
        for r in table.itertuples(index=False)
    ]
