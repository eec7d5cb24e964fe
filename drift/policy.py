"""Vigil's default drift verdict: a test per column, corrected across its group, with an effect floor.

When a suite names no method for a column, the column gets a test with a p-value
chosen by what it holds (:func:`default_check_name`):

* numeric with more than 5 distinct values: two-sample Kolmogorov–Smirnov (``ks``), effect ``D``;
* two distinct values (a binary label, ``y_pred`` of a binary model): the two-proportion
  z-test (``z``), effect Cohen's ``h``;
* anything else (categories, few-valued numbers): the chi-square test of homogeneity
  (``chi_square_homogeneity``), effect the total variation distance.

The raw p-values of one comparison group (one window × kind/model group: the data
columns, one model's outputs, the labels) are corrected together — Benjamini–Hochberg
by default, Holm or none on request — and a column drifts iff its corrected p-value
is below ``alpha`` **and** its effect reaches the floor. The floors (K-S ``D`` 0.02,
total variation 0.02, Cohen's ``h`` 0.04) all mean "about two percentage points of
probability mass moved". They sit far below what a 500-row window can resolve
(there a significant ``D`` is ≥ 0.06 and a significant ``h`` ≥ 0.09), so they never
cost power on small windows; they only stop million-row windows from flagging
shifts nobody would act on (a 0.005-std mean shift has ``D`` ≈ 0.002).

Example:
    >>> import pandas as pd
    >>> from drift.checks import check_column
    >>> ref = pd.Series([0, 1] * 2500, name="label")          # rate 0.50
    >>> cur = pd.Series([1] * 300 + [0] * 200, name="label")  # rate 0.60
    >>> r = check_column(ref, cur)
    >>> r.method, r.effect_name, r.drifted
    ('z', 'cohens_h', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from drift.results import ColumnKind, Correction, DriftResult
from evaluators.statistics import benjamini_hochberg, holm

DEFAULT_ALPHA = 0.05
DEFAULT_CORRECTION: Correction = "bh"


@dataclass(frozen=True)
class DriftPolicy:
    """The default verdict's settings.

    Attributes:
        alpha: Significance level for the corrected p-values.
        correction: ``"bh"`` (Benjamini–Hochberg, false discovery rate), ``"holm"`` (family-wise) or ``"none"``.
        effect_floors: Column -> smallest effect that counts as drift, replacing the check's floor.
    """

    alpha: float = DEFAULT_ALPHA
    correction: Correction = DEFAULT_CORRECTION
    effect_floors: Mapping[str, float] = field(default_factory=dict)

    def mark(self, result: DriftResult, check_floor: float) -> DriftResult:
        """A check's raw result under this policy, judged as the only column of its group
        (call :func:`apply_policy` on the whole group); ``check_floor`` is the check's own floor."""
        floor = float(self.effect_floors.get(result.column, check_floor))
        marked = result.model_copy(update={
            "threshold": self.alpha, "alpha": self.alpha, "correction": self.correction, "effect_floor": floor,
        })
        return apply_policy([marked])[0]


def default_check_name(kind: ColumnKind, n_unique: int) -> str:
    """The default check for a column of ``kind`` with ``n_unique`` distinct values over both sides.

    Example:
        >>> default_check_name("numerical", 100), default_check_name("categorical", 2), default_check_name("numerical", 4)
        ('ks', 'z', 'chi_square_homogeneity')
    """
    if n_unique <= 2:
        return "z"
    if kind == "numerical" and n_unique > 5:
        return "ks"
    return "chi_square_homogeneity"


def adjust_p_values(p_values: Sequence[float], correction: Correction) -> np.ndarray:
    """p-values adjusted for testing them together (each compared with alpha as it stands).

    Example:
        >>> adjust_p_values([0.01, 0.04, 0.03], "bh").round(3).tolist()
        [0.03, 0.04, 0.04]
        >>> adjust_p_values([0.01, 0.04, 0.03], "holm").round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    if len(p) == 0 or correction == "none":
        return p.copy()
    return holm(p) if correction == "holm" else benjamini_hochberg(p)


def apply_policy(results: Sequence[DriftResult]) -> list[DriftResult]:
    """Correct the default-policy results of one group together and set their verdicts.

    Results the suite chose a method for (``correction`` is None) pass unchanged. Re-applying
    to a different grouping recomputes from the raw p-values, so it is safe to call twice.
    """
    chosen = [i for i, r in enumerate(results) if r.correction is not None]
    out = list(results)
    if not chosen:
        return out
    correction = results[chosen[0]].correction
    adjusted = adjust_p_values([results[i].p_value if results[i].p_value is not None else 1.0 for i in chosen],
                               correction)  # type: ignore[arg-type]
    for i, p_adj in zip(chosen, adjusted):
        r = results[i]
        floor = r.effect_floor or 0.0
        big_enough = r.effect is None or r.effect >= floor
        out[i] = r.model_copy(update={"p_adjusted": float(p_adj), "drifted": bool(p_adj < (r.alpha or DEFAULT_ALPHA)) and big_enough})
    return out
