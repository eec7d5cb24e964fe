"""Drift checks, one file each, in the one registry ``DRIFT_CHECKS``.

Column checks (:class:`DriftCheck`) score one column on series or on merged shard
summaries; the one joint check (:class:`~drift.checks.mmd.JointCheck`, ``mmd``)
compares whole rows. With no method named, :func:`check_column` applies Vigil's
default policy (:mod:`drift.policy`).

Example:
    >>> import pandas as pd
    >>> r = DRIFT_CHECKS.get("ks")(pd.Series([1.0, 2, 3, 4, 5, 6] * 20, name="x"),
    ...                            pd.Series([5.0, 6, 7, 8, 9, 10] * 20, name="x"))
    >>> (r.method, r.score_kind, r.drifted)
    ('ks', 'p_value', True)
"""

from __future__ import annotations

import pandas as pd

from drift.checks.base import DriftCheck, EffectSize, clean, column_kind, evidently_method
from drift.checks.chi_square import CHI_SQUARE
from drift.checks.chi_square_homogeneity import CHI_SQUARE_HOMOGENEITY
from drift.checks.jensen_shannon import JENSEN_SHANNON
from drift.checks.ks import KS
from drift.checks.mmd import MMD, JointCheck
from drift.checks.psi import PSI
from drift.checks.wasserstein import WASSERSTEIN
from drift.checks.z import Z
from drift.policy import DriftPolicy, default_check_name
from drift.results import DriftResult
from suite.errors import VigilError
from suite.name_checks import install_name_check
from suite.registry import Registry

DRIFT_CHECKS: Registry[DriftCheck | JointCheck] = Registry("drift check", (DriftCheck, JointCheck))
for _check in (KS, CHI_SQUARE, CHI_SQUARE_HOMOGENEITY, Z, WASSERSTEIN, JENSEN_SHANNON, PSI, MMD):
    DRIFT_CHECKS.register(_check.name, _check)


def _check_suite_methods(methods: dict[str, str]) -> None:
    """A suite's ``drift.methods`` name registered column checks."""
    for column, name in methods.items():
        if name not in DRIFT_CHECKS:
            raise ValueError(f"methods[{column}]: {DRIFT_CHECKS.unknown_message(name)}")
        if not isinstance(DRIFT_CHECKS.get(name), DriftCheck):
            raise ValueError(f"methods[{column}]: expected a column check, got the multivariate check {name!r}")


install_name_check("drift.methods", _check_suite_methods)


def column_check(method: str, column: str, kind: str) -> DriftCheck:
    """The registered column check ``method``, refusing joint checks and column kinds it cannot score."""
    check = DRIFT_CHECKS.get(method)
    if not isinstance(check, DriftCheck):
        raise VigilError(f"drift check {method!r} on column {column!r}: expected a column check, got a multivariate check")
    if kind not in check.kinds:
        raise VigilError(
            f"drift check {method!r} on column {column!r}: expected a {'/'.join(check.kinds)} column, got {kind}"
        )
    return check


def check_column(
    reference: pd.Series,
    current: pd.Series,
    method: str | None = None,
    threshold: float | None = None,
    kind: str | None = None,
    *,
    policy: DriftPolicy | None = None,
) -> DriftResult:
    """Run ``method`` on one column, or Vigil's default policy when ``method`` is None.

    Args:
        reference: Reference values; its ``name`` becomes the result's column.
        current: Current values.
        method: A ``DRIFT_CHECKS`` name, or None for the default test (see :mod:`drift.policy`).
        threshold: Threshold for a named method, or None for the check's default. A threshold with
            no method keeps Evidently's choice of method (the default before the policy existed).
        kind: ``"numerical"`` or ``"categorical"``; inferred from the dtype when None.
        policy: Alpha, correction and effect floors of the default; None means the defaults.
            The result is judged as a group of one: correct a group with :func:`drift.policy.apply_policy`.
    """
    col_kind = kind or column_kind(reference)
    n_unique = pd.concat([clean(reference), clean(current)]).nunique()
    if method is None and threshold is not None:  # a threshold alone keeps the method it was set for
        method = evidently_method(col_kind, len(clean(reference)), n_unique)  # type: ignore[arg-type]
    if method is not None:
        return column_check(method, str(reference.name), col_kind)(reference, current, threshold)
    check = column_check(default_check_name(col_kind, n_unique), str(reference.name), col_kind)  # type: ignore[arg-type]
    return (policy or DriftPolicy()).mark(check(reference, current), check.effect.floor if check.effect else 0.0)


__all__ = ["DRIFT_CHECKS", "DriftCheck", "EffectSize", "JointCheck", "check_column", "column_check",
           "column_kind", "evidently_method"]
