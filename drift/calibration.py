"""Recalibrate a classifier's probabilities on a labelled reference, for label-free performance estimation.

Confidence-based estimation (:mod:`drift.performance_estimation`) is only as good as
the probabilities it sums. A model that is overconfident on its reference is
overconfident on every window, so the reference — which has labels and the model's
scores — is used once to learn a map from raw to calibrated probabilities, and the
map is applied to each window's scores. Under pure covariate shift (P(y | x) fixed)
the map stays valid wherever the reference covered the window's scores.

Choice and why (``method="auto"``):
    * ``identity`` when the reference has fewer than :data:`MIN_ROWS` labelled rows or
      a single class: nothing can be learned;
    * ``platt`` (default): ``softmax(a · log p + b)`` with one slope ``a`` and a bias
      per class — Platt scaling of the logit when binary — fitted by maximum likelihood.
      It undoes over/under-confidence and a class bias with k parameters, extrapolates
      smoothly to scores the reference rarely saw, and keeps its error small on small
      references;
    * ``isotonic`` for a *binary* model with at least :data:`ISOTONIC_MIN_ROWS` rows:
      a monotone step function of P(class 1). It fixes any monotone distortion, but
      needs many rows per step; one-vs-rest isotonic for multiclass (renormalised
      across classes) is only used on request: it fixes a warped model but leaves a
      bias under shift on a class-biased one (table below).
    * ``temperature``: ``softmax(log p / T)``, one scalar; only on request.

    Measured (``bench/detection_estimation.py: method_study``; windows of 2,000 rows
    shifted by (1, -0.8); 40 repeats; mean |estimate − the window's true expected
    accuracy|), Platt vs isotonic by reference rows:

    ==========================  ===============  ===============  ===============
    model                       1,000 rows       2,000 rows       5,000 rows
    ==========================  ===============  ===============  ===============
    binary, overconfident ×2    0.008 / 0.010    0.005 / 0.007    0.004 / 0.005
    binary, class-1 bias +1     0.009 / 0.009    0.006 / 0.009    0.004 / 0.005
    binary, warped logit^1.7    0.014 / 0.011    0.012 / 0.009    0.011 / 0.005
    3-class, overconfident ×2   0.006 / 0.008    0.006 / 0.007    0.003 / 0.005
    3-class, class-1 bias +1    0.008 / 0.017    0.004 / 0.014    0.003 / 0.014
    3-class, warped logit^1.7   0.012 / 0.005    0.011 / 0.005    0.010 / 0.003
    ==========================  ===============  ===============  ===============

    Isotonic only wins where the distortion is not logistic; Platt's worst case is
    smaller at every size (0.014 vs 0.017 at 1,000 rows, 0.011 vs 0.014 at 5,000),
    and binary isotonic only clearly wins from 5,000 rows — hence the rule.

Uncertainty: the calibrator also holds :data:`BOOTSTRAPS` alternative maps — draws
of Platt's parameters from their asymptotic normal law (inverse Hessian / n; checked
against refits: same spread), or refits on bootstrap resamples for isotonic and
temperature — so an estimate can add the calibrator's own variance to its interval
(this matters when windows are as large as the reference or larger).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q = rng.uniform(0.05, 0.95, 4000)                       # true P(class 1)
    >>> y = (rng.random(4000) < q).astype(int)
    >>> logit = 2 * np.log(q / (1 - q))                        # the model is overconfident
    >>> raw = np.column_stack([1 / (1 + np.exp(logit)), 1 / (1 + np.exp(-logit))])
    >>> cal = fit_calibrator(raw, y)
    >>> cal.method, round(cal.maps[0].slope, 1)
    ('platt', 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from sklearn.isotonic import IsotonicRegression

from suite.errors import DataError

MIN_ROWS = 50
"""Below this many labelled reference rows the calibrator is the identity."""

ISOTONIC_MIN_ROWS = 5000
"""From this many labelled reference rows ``auto`` picks isotonic regression over Platt scaling (binary only)."""

BOOTSTRAPS = 30
"""Refits on bootstrap resamples of the reference, for the calibrator's share of the interval."""

_EPS = 1e-6


@dataclass(frozen=True)
class Identity:
    """Leaves probabilities as they are."""

    def apply(self, p: np.ndarray) -> np.ndarray:
        """The probabilities unchanged."""
        return p


@dataclass(frozen=True)
class Temperature:
    """``softmax(log p / temperature)``: above 1 softens an overconfident model, below 1 sharpens."""

    temperature: float

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Rescaled probabilities, rows summing to 1, same argmax."""
        z = np.log(np.clip(p, 1e-12, 1.0)) / self.temperature
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Platt:
    """``softmax(slope · log p + intercepts)``: Platt scaling of the logit when binary; one slope and a
    bias per class (the first fixed at 0) in general. Fixes over/under-confidence and a class bias."""

    slope: float
    intercepts: tuple[float, ...]

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Rescaled probabilities, rows summing to 1."""
        z = self.slope * np.log(np.clip(p, 1e-12, 1.0)) + np.asarray(self.intercepts)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Isotonic:
    """Per-class monotone step functions, as knots ``(x, y)`` interpolated with :func:`numpy.interp`.

    With one map (binary) it gives P(class 1) and P(class 0) = 1 − P(class 1); with one
    map per class the outputs are clipped to ``[1e-6, 1]`` and renormalised.
    """

    knots: tuple[tuple[np.ndarray, np.ndarray], ...]

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, rows summing to 1."""
        if len(self.knots) == 1:
            x, y = self.knots[0]
            q = np.interp(p[:, 1], x, y)
            return np.column_stack([1 - q, q])
        out = np.column_stack([np.interp(p[:, j], x, y) for j, (x, y) in enumerate(self.knots)])
        out = np.clip(out, _EPS, 1.0)
        return out / out.sum(axis=1, keepdims=True)


Map = Identity | Temperature | Platt | Isotonic


@dataclass(frozen=True)
class Calibrator:
    """A frozen, picklable map from a model's raw probabilities to calibrated ones.

    Attributes:
        method: ``identity``, ``platt``, ``isotonic`` or ``temperature``.
        n_reference: Labelled reference rows it was fitted on.
        maps: ``maps[0]`` is fitted on the whole reference; the rest are draws for its uncertainty.
    """

    method: str
    n_reference: int
    maps: tuple[Map, ...]

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from the map fitted on the whole reference."""
        return self.maps[0].apply(p)


IDENTITY = Calibrator(method="identity", n_reference=0, maps=(Identity(),))
"""The calibrator that changes nothing (no labelled reference)."""


def fit_calibrator(
    scores: np.ndarray, labels: np.ndarray, *, method: str = "auto", bootstraps: int = BOOTSTRAPS, seed: int = 0
) -> Calibrator:
    """Fit a calibrator on the reference's raw probabilities and labels.

    Args:
        scores: (n, k) raw class probabilities of the reference rows (rows are renormalised).
        labels: (n,) class indices in ``0..k-1``.
        method: ``auto`` (see the module docstring), ``platt``, ``isotonic``, ``temperature`` or ``identity``.
        bootstraps: Refits on bootstrap resamples of the reference (0 for none).
        seed: Seed of the resamples.

    Returns:
        The fitted calibrator; the identity when the reference is too small or has one class.
    """
    p = np.asarray(scores, dtype=float)
    y = np.asarray(labels)
    if p.ndim != 2 or p.shape[1] < 2 or len(y) != len(p) or (p < 0).any():
        raise DataError(f"fit_calibrator: expected (n, k>=2) non-negative scores and n labels, got shape {p.shape} and {len(y)} labels")
    if method not in ("auto", "isotonic", "platt", "temperature", "identity"):
        raise DataError(f"fit_calibrator: method: expected auto, isotonic, platt, temperature or identity, got {method!r}")
    n, k = p.shape
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise DataError(f"fit_calibrator: labels: expected class indices in 0..{k - 1}, got {y.min()}..{y.max()}")
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    if method == "auto":
        method = auto_method(n, k, len(np.unique(y)))
    if method == "identity":
        return Calibrator(method="identity", n_reference=n, maps=(Identity(),))
    fit = {"isotonic": _fit_isotonic, "platt": _fit_platt, "temperature": _fit_temperature}[method]
    rng = np.random.default_rng(seed)
    maps: list[Map] = [fit(p, y)]
    if isinstance(maps[0], Platt):
        maps += _platt_draws(p, maps[0], bootstraps, rng)
    else:
        maps += [fit(p[idx], y[idx]) for idx in rng.integers(0, n, (bootstraps, n))]
    return Calibrator(method=method, n_reference=n, maps=tuple(maps))


def auto_method(rows: int, classes: int, classes_seen: int) -> str:
    """The method ``auto`` picks for a reference of ``rows`` labelled rows (see the module docstring)."""
    if rows < MIN_ROWS or classes_seen < 2:
        return "identity"
    return "isotonic" if classes == 2 and rows >= ISOTONIC_MIN_ROWS else "platt"


def _fit_temperature(p: np.ndarray, y: np.ndarray) -> Temperature:
    logp = np.log(np.clip(p, 1e-12, 1.0))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
    return Temperature(temperature=float(np.exp(best.x)))


def _fit_platt(p: np.ndarray, y: np.ndarray) -> Platt:
    # theta = (log slope, intercepts of classes 1..k-1); BFGS with the exact gradient
    # (scipy's bounded L-BFGS-B costs ~10 ms per step here for nothing).
    logp = np.log(np.clip(p, 1e-12, 1.0))
    n, k = p.shape
    onehot = np.eye(k)[y]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a = np.exp(theta[0])
        z = a * logp + np.concatenate([[0.0], theta[1:]])
        z = z - z.max(axis=1, keepdims=True)
        total = np.exp(z).sum(axis=1)
        resid = (np.exp(z) / total[:, None] - onehot) / n
        loss = float(np.mean(np.log(total) - z[np.arange(n), y]))
        return loss, np.concatenate([[a * np.sum(resid * logp)], resid.sum(axis=0)[1:]])

    best = minimize(nll, np.zeros(k), jac=True, method="BFGS")
    return Platt(slope=float(np.exp(best.x[0])), intercepts=(0.0, *map(float, best.x[1:])))


def _platt_draws(p: np.ndarray, fitted: Platt, count: int, rng: np.random.Generator) -> list[Map]:
    """Parameter draws from the fit's asymptotic normal law N(theta, H^-1 / n) — as good as bootstrap
    refits for a smooth k-parameter fit, at the cost of one Hessian instead of ``count`` fits."""
    if count == 0:
        return []
    logp = np.log(np.clip(p, 1e-12, 1.0))
    n, k = p.shape
    q = fitted.apply(p)
    # Features of (row i, class j): (log p_ij, one-hot of j for j >= 1); H = E_i[Cov_{j~q_i}(features)].
    mean = np.column_stack([(q * logp).sum(axis=1), q[:, 1:]])
    second = np.zeros((k, k))
    second[0, 0] = np.sum(q * logp**2)
    second[0, 1:] = second[1:, 0] = (q * logp).sum(axis=0)[1:]
    second[np.arange(1, k), np.arange(1, k)] = q.sum(axis=0)[1:]
    hessian = (second - mean.T @ mean) / n
    if not np.all(np.isfinite(hessian)) or np.linalg.eigvalsh(hessian).min() <= 1e-12:
        return []
    theta = np.array([fitted.slope, *fitted.intercepts[1:]])
    draws = rng.multivariate_normal(theta, np.linalg.inv(hessian) / n, size=count)
    return [Platt(slope=float(max(d[0], 1e-3)), intercepts=(0.0, *map(float, d[1:]))) for d in draws]


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> Isotonic:
    columns = [1] if p.shape[1] == 2 else range(p.shape[1])
    knots = []
    for j in columns:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p[:, j], (y == j).astype(float))
        knots.append((np.asarray(iso.X_thresholds_, dtype=float), np.asarray(iso.y_thresholds_, dtype=float)))
    return Isotonic(knots=tuple(knots))
