"""Drift checks, one file each, in the one registry ``DRIFT_CHECKS``.

Example:
    >>> import pandas as pd
    >>> r = DRIFT_CHECKS.get("ks")(pd.Series([1.0, 2, 3, 4, 5, 6] * 20, name="x"),
    ...                            pd.Series([5.0, 6, 7, 8, 9, 10] * 20, name="x"))
    >>> (r.method, r.score_kind, r.drifted)
    ('ks', 'p_value', True)
"""

from __future__ import annotations

import pandas as pd

from drift.checks.base import DriftCheck, clean, column_kind, default_method
from drift.checks.chi_square import CHI_SQUARE
from drift.checks.jensen_shannon import JENSEN_SHANNON
from drift.checks.ks import KS
from drift.checks.psi import PSI
from drift.checks.wasserstein import WASSERSTEIN
from drift.checks.z import Z
from drift.results import DriftResult
from suite.errors import VigilError
from suite.registry import Registry

DRIFT_CHECKS: Registry[DriftCheck] = Registry("drift check", DriftCheck)
for _check in (KS, CHI_SQUARE, Z, WASSERSTEIN, JENSEN_SHANNON, PSI):
    DRIFT_CHECKS.register(_check.name, _check)


def check_column(
    reference: pd.Series,
    current: pd.Series,
    method: str | None = None,
    threshold: float | None = None,
    kind: str | None = None,
) -> DriftResult:
    """Run ``method`` (or the check Evidently would pick) on one column.

    Args:
        reference: Reference values; its ``name`` becomes the result's column.
        current: Current values.
        method: A ``DRIFT_CHECKS`` name, or None for Evidently's default choice.
        threshold: Threshold, or None for the check's default.
        kind: ``"numerical"`` or ``"categorical"``; inferred from the dtype when None.
    """
    col_kind = kind or column_kind(reference)
    if method is None:
        ref, cur = clean(reference), clean(current)
        n_unique = pd.concat([ref, cur]).nunique()
        method = default_method(col_kind, len(ref), n_unique)  # type: ignore[arg-type]
    check = DRIFT_CHECKS.get(method)
    if col_kind not in check.kinds:
        raise VigilError(
            f"drift check {method!r} on column {reference.name!r}: expected a {'/'.join(check.kinds)} column, got {col_kind}"
        )
    return check(reference, current, threshold)


__all__ = ["DRIFT_CHECKS", "DriftCheck", "check_column", "default_method", "column_kind"]
