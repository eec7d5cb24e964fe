"""Has a metric's latest value left its normal band, or has its history shifted?

Two detectors over a series ordered oldest -> newest:

* :func:`band_change` — a robust control chart: the band is the median of the
  last N earlier values ± k robust standard deviations (1.4826 × MAD). With
  ``require_ci_outside`` the newest point is flagged only when its whole
  confidence interval lies outside the band, so sampling noise alone is not
  called drift.
* :func:`cusum_change` — a two-sided CUSUM on values standardised by a baseline
  (the oldest points); it finds sustained small shifts a band misses, and
  reports where the shift began (the last time the alarming sum was zero).

Example:
    >>> values = [0.90, 0.91, 0.90, 0.89, 0.90, 0.91, 0.90, 0.80]
    >>> band_change(values, [v - 0.01 for v in values], [v + 0.01 for v in values]).detected
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from drift.spec import MetricDriftSpec
from suite.spec import Frozen

ROBUST_SD = 1.4826  # MAD -> standard deviation for a normal distribution


class MetricChange(Frozen):
    """A detector's verdict on a metric series.

    Attributes:
        detected: Whether a change is signalled.
        method: ``"band"`` or ``"cusum"``.
        magnitude: Distance of the newest value from the band centre (band) or of the shifted
            mean from the baseline (cusum), in robust standard deviations; signed.
        band: ``(low, high)`` of the normal band, or the baseline mean ± h·sd for cusum.
        index: Index of the change: the newest point (band) or the start of the shift (cusum).
        direction: ``"up"``, ``"down"`` or None.
        reason: One line on why there is no verdict or what was seen.
    """

    detected: bool
    method: Literal["band", "cusum"]
    magnitude: float = 0.0
    band: tuple[float, float] | None = None
    index: int | None = None
    direction: Literal["up", "down"] | None = None
    reason: str = ""


def robust_sd(values: np.ndarray) -> float:
    """1.4826 × median absolute deviation: the std of a normal sample, resistant to outliers."""
    return float(ROBUST_SD * np.median(np.abs(values - np.median(values))))


def band_change(
    values: Sequence[float],
    ci_low: Sequence[float] | None = None,
    ci_high: Sequence[float] | None = None,
    spec: MetricDriftSpec = MetricDriftSpec(),
) -> MetricChange:
    """Is the newest value (with its CI) outside the band of the previous ``spec.history`` values?

    The band's half-width is ``k × max(robust sd of the history, median CI half-width / 1.96)``:
    a history that happens to be flat cannot make the band narrower than the runs' own noise.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    past = x[max(0, n - 1 - spec.history) : n - 1]
    if len(past) < spec.min_history:
        return MetricChange(detected=False, method="band", reason=f"{len(past)} past runs < min_history {spec.min_history}")
    lo_all = x if ci_low is None else np.asarray(ci_low, dtype=float)
    hi_all = x if ci_high is None else np.asarray(ci_high, dtype=float)
    sd = max(robust_sd(past), _ci_sd(lo_all[: n - 1][-len(past) :], hi_all[: n - 1][-len(past) :]), 1e-12)
    centre = float(np.median(past))
    low, high = centre - spec.k * sd, centre + spec.k * sd
    newest, lo, hi = x[-1], lo_all[-1], hi_all[-1]
    if spec.require_ci_outside:
        up, down = lo > high, hi < low
    else:
        up, down = newest > high, newest < low
    direction = "up" if up else "down" if down else None
    return MetricChange(
        detected=bool(up or down), method="band", magnitude=float((newest - centre) / sd),
        band=(low, high), index=n - 1, direction=direction,
        reason="newest CI outside band" if direction else "within band",
    )


def cusum_change(
    values: Sequence[float],
    ci_low: Sequence[float] | None = None,
    ci_high: Sequence[float] | None = None,
    spec: MetricDriftSpec = MetricDriftSpec(),
) -> MetricChange:
    """Two-sided CUSUM; the baseline is the oldest ``max(min_history, min(history, n // 2))`` values.

    The baseline's spread is the largest of its robust sd, its sample sd and the runs' CI-implied
    sd: a short baseline underestimates its spread often enough to cause false alarms otherwise.
    """
    x = np.asarray(values, dtype=float)
    n_base = max(spec.min_history, min(spec.history, len(x) // 2))
    if len(x) <= n_base:
        return MetricChange(detected=False, method="cusum", reason=f"{len(x)} runs: need more than {n_base}")
    base = x[:n_base]
    mu = float(np.median(base))
    ci_sd = 0.0 if ci_low is None or ci_high is None else _ci_sd(
        np.asarray(ci_low, dtype=float)[:n_base], np.asarray(ci_high, dtype=float)[:n_base]
    )
    sd = max(robust_sd(base), float(np.std(base, ddof=1)), ci_sd, 1e-12)
    z = (x - mu) / sd
    s_up = s_down = 0.0
    start_up = start_down = 0
    for i, zi in enumerate(z):
        s_up, s_down = max(0.0, s_up + zi - spec.cusum_k), max(0.0, s_down - zi - spec.cusum_k)
        start_up = i + 1 if s_up == 0 else start_up
        start_down = i + 1 if s_down == 0 else start_down
        if s_up > spec.cusum_h or s_down > spec.cusum_h:
            up = s_up > spec.cusum_h
            begin = start_up if up else start_down
            return MetricChange(
                detected=True, method="cusum", magnitude=float(np.mean(z[begin : i + 1])),
                band=(mu - spec.cusum_h * sd, mu + spec.cusum_h * sd), index=begin,
                direction="up" if up else "down", reason=f"alarm at index {i}",
            )
    return MetricChange(detected=False, method="cusum", band=(mu - spec.cusum_h * sd, mu + spec.cusum_h * sd),
                        reason="no alarm")


def metric_changes(
    values: Sequence[float],
    ci_low: Sequence[float] | None = None,
    ci_high: Sequence[float] | None = None,
    spec: MetricDriftSpec = MetricDriftSpec(),
) -> list[MetricChange]:
    """Both detectors' verdicts on one series."""
    return [band_change(values, ci_low, ci_high, spec), cusum_change(values, ci_low, ci_high, spec)]


def _ci_sd(low: np.ndarray, high: np.ndarray) -> float:
    """The standard deviation a run's 95% CI implies: median width / (2 × 1.96)."""
    return float(np.median(high - low) / (2 * 1.96)) if len(low) else 0.0
