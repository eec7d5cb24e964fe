"""Has a metric series changed against its accepted reference, and has it come back?

Choice and why: a rolling band (median ± k·MAD of the last runs) re-centres on a
new level within a few runs, collapses to zero width on discrete or constant
series, and re-alerts on every point of a bad stretch. Users measured it at
TCPD-F1 0.19 on an annotated series (emitting nothing scored 0.45). So the
detector here is:

* **a fixed reference** — the accepted baseline period (by default the first
  ``reference`` points), never a window that follows a drop. One exception: a
  stream of single 0/1 rows (``n`` = 1, no CI), where ten rows cannot pin a rate,
  also takes into its reference every row the CUSUM has cleared (no sum running
  on it) until its first incident;
* **per-point noise** — a point's variance is its own sampling variance (from
  its CI, ``se = (ci_high - ci_low) / (2 z)``; for a proportion without a CI the
  binomial ``p(1-p)/n`` at the reference's Agresti–Coull rate, never 0) plus the
  reference's **excess** between-run variance, estimated as in a random-effects
  meta-analysis: ``tau² = max(0, var(reference) - mean se²)``, taken at an upper
  75% (Q-profile) bound (:func:`excess_variance`); single 0/1 rows have none. The
  sampling part is never inflated — adding the whole reference spread on top of
  it counted binomial noise twice, so a 0.3 → 0.6 rate change was never seen.
  The uncertainty of the reference mean is added too;
* **incidents** — a two-sided CUSUM on standardised residuals, plus a Shewhart
  limit so one point far out (``shewhart`` sd) alarms at once. Single 0/1 rows
  are skewed: one row counts at most ``ROW_Z_CAP`` (4) sd, has no Shewhart limit
  and the threshold is doubled, so a rare failure does not page on its own. With no incident
  open, residuals are against the reference: an alarm *opens* an incident at
  the estimated start of the change. While one is open, a self-starting CUSUM
  watches the new segment's own level: an alarm is a further change (*changed*),
  or *closed* when the new level is back within twice the slack of the
  reference; a second CUSUM aimed at the reference level closes it on recovery.
  Every alarm restarts the sums, so one change gives one event.

It is a causal scan of the series, so it is stateless and idempotent: the events
at a point depend only on the points up to it, whatever is stored later.

Trade-off (``bench/detection.py``): ``cusum_h`` 6 (was 8) with the excess-only
noise pages sooner — 75.5% F1 when an event must fire 0–5 points after a change
(was 53%), located F1 0.88 (was 0.885) — for more false events on changeless
series: 0.54 (CI), 2.5 (CIs understating the noise 1.5×), 0.17 (binomial) per
1,000 points (were 0.07 / 0.27 / 0.00). Single 0/1 rows: Bernoulli 0.3 → 0.6 at
row 1000 is caught in all 20 streams (median 54 rows, none before; was 16 of 20
missed); a check always passing, then failing 30%: median 14 rows (was 29).

Example:
    >>> values = [0.90, 0.91, 0.90, 0.89, 0.90, 0.91, 0.90, 0.89, 0.91, 0.90] + [0.80] * 5
    >>> [(e.state, e.index, e.change_index) for e in detect_changes(values, n=[1000] * 15).events]
    [('opened', 10, 10)]
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

from suite.base import Frozen
from suite.sections import MetricDriftSpec

ROBUST_SD = 1.4826  # MAD -> standard deviation for a normal distribution
SPREAD_CONFIDENCE = 0.75  # the between-run (excess) variance is taken at this upper confidence bound
ROW_THRESHOLD = 2.0  # a stream of single 0/1 rows: the CUSUM threshold is this many times cusum_h
ROW_Z_CAP = 4.0  # ... and one row's standardised residual counts at most this many sd (no Shewhart limit)
PLAIN_FLOOR = 1e-3  # a series with no CI, no spread and not a proportion: sd floor, relative to its level

State = Literal["opened", "changed", "closed"]


class Reference(Frozen):
    """The accepted baseline of a series.

    Attributes:
        mean: Mean of the reference points.
        sd: Typical standard deviation of one point under the reference (sampling and between-run).
        between_sd: Between-run spread beyond the points' own standard errors.
        size: Number of reference points (for single 0/1 rows, as grown by the scan up to its first incident).
        last_index: Index of the last reference point; points after the initial one are judged.
        noise: ``ci`` (standard errors from CIs), ``binomial`` (a proportion without CIs) or
            ``plain`` (neither: the reference spread, floored at 0.1% of the level).
    """

    mean: float
    sd: float
    between_sd: float
    size: int
    last_index: int
    noise: Literal["ci", "binomial", "plain"]


class MetricEvent(Frozen):
    """One event of an incident, at the point where it fires.

    Attributes:
        index: The point at which the CUSUM alarmed (the event fires here).
        state: ``opened`` (the series left its reference), ``changed`` (a further change while open)
            or ``closed`` (back at the reference).
        incident: 1-based number of the incident within the series.
        opened_index: The point at which this incident opened.
        change_index: Estimated first point of the new segment (where the change began).
        direction: ``up`` or ``down``: the move from the previous level to the new one.
        level: Mean of the new segment, from ``change_index`` to ``index``.
        magnitude: ``(level - reference mean) / reference sd``, signed.
        method: ``cusum`` (any change) or ``recovery`` (the CUSUM aimed at the reference level).
    """

    index: int
    state: State
    incident: int
    opened_index: int
    change_index: int
    direction: Literal["up", "down"]
    level: float
    magnitude: float
    method: Literal["cusum", "recovery"]


class SeriesVerdict(Frozen):
    """Events of one series, oldest first, and its reference (None when it has too few points)."""

    reference: Reference | None
    events: list[MetricEvent]
    reason: str = ""

    @property
    def open_incident(self) -> MetricEvent | None:
        """The latest event of the incident still open at the end of the series, if any."""
        return self.events[-1] if self.events and self.events[-1].state != "closed" else None


def robust_sd(values: np.ndarray) -> float:
    """1.4826 × median absolute deviation: the std of a normal sample, resistant to outliers."""
    return float(ROBUST_SD * np.median(np.abs(values - np.median(values))))


def ci_z(level: float = 0.95) -> float:
    """The normal quantile a two-sided ``level`` CI spans on each side (1.96 for 95%)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def excess_variance(values: np.ndarray, sampling: float, confidence: float = SPREAD_CONFIDENCE) -> float:
    """Between-run variance of ``values`` beyond their mean sampling variance ``sampling`` (random-effects tau²).

    As in a random-effects meta-analysis, the spread of the values is explained first by each
    point's own error; only the excess is between-run variance: ``max(0, var - sampling)``
    (DerSimonian–Laird's moment estimate). With ``m`` points it is taken at an upper ``confidence``
    bound (the Q-profile bound: the variance scaled by ``(m - 1) / chi2_{1-confidence}(m - 1)``,
    minus the sampling part), so a short reference that happens to look calm does not make every
    later run look significant; the sampling part itself is never inflated.
    """
    from scipy.stats import chi2  # imported on use: scipy.stats costs every start ~0.5 s of CPU (issue 18)

    m = len(values)
    if m < 2:
        return 0.0
    upper = float(np.var(values, ddof=1)) * (m - 1) / float(chi2.ppf(1 - confidence, m - 1))
    return max(0.0, upper - sampling)


def detect_changes(
    values: Sequence[float],
    ci_low: Sequence[float] | None = None,
    ci_high: Sequence[float] | None = None,
    n: Sequence[float] | None = None,
    spec: MetricDriftSpec = MetricDriftSpec(),
    reference: Sequence[bool] | None = None,
    ci_level: float = 0.95,
) -> SeriesVerdict:
    """Incidents of one series (oldest first, no NaN values) against its fixed reference.

    Args:
        values: The metric, one point per run.
        ci_low, ci_high: Each point's CI (NaN or equal to the value where it has none).
        n: Rows behind each point (the binomial error of a proportion without CI; default 1).
        spec: ``reference`` size and the CUSUM's ``cusum_k``, ``cusum_h`` and ``shewhart``.
        reference: Which points form the reference (default: the first ``spec.reference``).
        ci_level: Confidence level of the CIs.
    """
    x = np.asarray(values, dtype=float)
    if reference is None:
        mask, needed = np.arange(len(x)) < spec.reference, spec.reference
    else:
        mask, needed = np.asarray(reference, dtype=bool), 3
    if mask.sum() < needed:
        return SeriesVerdict(reference=None, events=[], reason=f"reference has {int(mask.sum())} points, needs {needed}")
    events, ref = _scan(x, _Noise(x, ci_low, ci_high, n, mask, ci_z(ci_level)), spec)
    return SeriesVerdict(reference=ref, events=events)


class _Noise:
    """The variance of each point around a level: its sampling error plus the reference's between-run spread."""

    def __init__(self, x: np.ndarray, ci_low: Sequence[float] | None, ci_high: Sequence[float] | None,
                 n: Sequence[float] | None, mask: np.ndarray, z: float) -> None:
        se = np.full(len(x), np.nan)
        if ci_low is not None and ci_high is not None:
            width = np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)
            se = np.where(np.isfinite(width) & (width > 0), width / (2 * z), np.nan)
        self.x, self.z = x, z
        self.rows = np.ones(len(x)) if n is None else np.nan_to_num(np.asarray(n, dtype=float), nan=1.0).clip(min=1.0)
        self.reference_points = np.flatnonzero(mask)
        ref_x = x[mask]
        mean = float(ref_x.mean())
        self.kind: Literal["ci", "binomial", "plain"]
        if np.isfinite(se).any():
            self.kind, self.se2 = "ci", np.where(np.isfinite(se), se, np.nanmedian(se)) ** 2
        elif ((x >= 0) & (x <= 1)).all():
            self.kind, self.se2 = "binomial", np.zeros(len(x))
        else:
            self.kind, self.se2 = "plain", np.full(len(x), (PLAIN_FLOOR * max(abs(mean), 1e-9)) ** 2)
        own = float(np.mean(self.sampling(self.reference_points, self.reference_points)))
        # A single 0/1 row has no spread beyond its rate's (a Bernoulli's variance is p(1-p)): no excess.
        self.single_rows = self.kind == "binomial" and bool((self.rows <= 1).all())
        self.between = 0.0 if self.single_rows else excess_variance(ref_x, own)
        self.reference = self.at(self.reference_points)

    def at(self, points: np.ndarray) -> Reference:
        """The reference formed by ``points``."""
        own = float(np.mean(self.sampling(points, points)))
        return Reference(
            mean=float(self.x[points].mean()), sd=float(np.sqrt(own + self.between)),
            between_sd=float(np.sqrt(self.between)), size=len(points), last_index=int(points[-1]), noise=self.kind,
        )

    def sampling(self, i: int | np.ndarray, level_points: np.ndarray) -> np.ndarray:
        """Sampling variance of point(s) ``i`` at the level of ``level_points``."""
        if self.kind != "binomial":
            return self.se2[i]
        # Agresti–Coull: the level's pooled rate with z²/2 successes and failures added, never 0 or 1.
        rows = self.rows[level_points]
        p = (float(self.x[level_points] @ rows) + self.z**2 / 2) / (rows.sum() + self.z**2)
        return p * (1 - p) / self.rows[i]

    def variance(self, i: int, level_points: np.ndarray) -> float:
        """Variance of point ``i`` around the level of ``level_points``: sampling plus between-run."""
        return float(self.sampling(i, level_points)) + self.between


def _scan(x: np.ndarray, noise: _Noise, spec: MetricDriftSpec) -> tuple[list[MetricEvent], Reference]:
    """The CUSUM state machine over the points after the reference; the events and the final reference."""
    ref, ref_points = noise.reference, noise.reference_points
    h = spec.cusum_h * (ROW_THRESHOLD if noise.single_rows else 1.0)
    k, mean_var = _slack(spec, ref)
    events: list[MetricEvent] = []
    first = ref.last_index + 1
    segment: int | None = None  # first point of the open incident's current segment
    incident = opened = 0
    up = down = back = 0.0
    up_start = down_start = back_start = first
    for i in range(first, len(x)):
        cleared = min(up_start, down_start)
        if noise.single_rows and incident == 0 and cleared > int(ref_points[-1]) + 1:
            # Ten 0/1 rows cannot pin a rate: until the first incident, the rows the CUSUM has
            # cleared (no sum is running on them) join the reference.
            ref_points = np.r_[noise.reference_points, np.arange(first, cleared)]
            ref = noise.at(ref_points)
            k, mean_var = _slack(spec, ref)
        ref_sd = float(np.sqrt(noise.variance(i, ref_points) + mean_var))
        if segment is None:
            level, sd = ref.mean, ref_sd
        else:
            points = np.arange(segment, i)
            level = float(x[points].mean())
            sd = float(np.sqrt(noise.variance(i, points) * (1 + 1 / len(points))))
        zi = (x[i] - level) / max(sd, 1e-12)
        zc = min(max(zi, -ROW_Z_CAP), ROW_Z_CAP) if noise.single_rows else zi
        up, down = max(0.0, up + zc - k), max(0.0, down - zc - k)
        up_start = i + 1 if up == 0 else up_start
        down_start = i + 1 if down == 0 else down_start
        if segment is not None:
            toward = (ref.mean - level) / ref_sd  # where the reference lies, in sd of the segment
            back = max(0.0, back + np.sign(toward) * zc - max(abs(toward) / 2, k))
            back_start = i + 1 if back == 0 else back_start
        if segment is not None and back > h:
            start, method = back_start, "recovery"
        elif up > h or down > h or (abs(zi) > spec.shewhart and not noise.single_rows):
            start, method = (up_start if up > h or (down <= h and zi > 0) else down_start), "cusum"
        else:
            continue
        start = _best_start(x[start : i + 1], level) + start
        new_level = float(x[start : i + 1].mean())
        if segment is None:
            incident, opened, state = incident + 1, i, "opened"
            old_level = ref.mean
        else:
            old_level = float(x[segment:start].mean()) if start > segment else level
            state = "closed" if method == "recovery" or abs(new_level - ref.mean) <= 2 * k * ref_sd else "changed"
        events.append(MetricEvent(
            index=i, state=state, incident=incident, opened_index=opened, change_index=start,
            direction="up" if new_level > old_level else "down", level=new_level,
            magnitude=(new_level - ref.mean) / max(ref.sd, 1e-12), method=method,
        ))
        segment = None if state == "closed" else start
        up = down = back = 0.0
        up_start = down_start = back_start = i + 1
    return events, ref


def _slack(spec: MetricDriftSpec, ref: Reference) -> tuple[float, float]:
    """The CUSUM slack for ``ref`` and the variance of its mean.

    The slack grows by half the reference mean's standard error (in sd): a short reference's
    mean is off by about 1/sqrt(size) sd, and a CUSUM would otherwise accumulate that bias.
    """
    return spec.cusum_k + 0.5 / np.sqrt(ref.size), ref.sd**2 / ref.size


def _best_start(window: np.ndarray, level: float) -> int:
    """Where in ``window`` (the CUSUM's run up to its alarm) the shift from ``level`` most likely began.

    The maximum-likelihood split for a mean shift from a known level: the start ``s`` maximising
    ``(sum of x[s:] - level)^2 / len(x[s:])``. It drops early points that the CUSUM's run
    began with by chance, so they bias neither the new level nor the reported change index.
    """
    tail = np.cumsum((window - level)[::-1])[::-1]
    return int(np.argmax(tail**2 / np.arange(len(window), 0, -1)))
