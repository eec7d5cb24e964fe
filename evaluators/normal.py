"""The standard normal's quantile, CDF and upper tail, from the special functions ``scipy.stats.norm`` itself calls.

``scipy.stats.norm.ppf``, ``.cdf`` and ``.sf`` are ``ndtri(q)``, ``ndtr(x)`` and
``ndtr(-x)`` behind argument checks, so these give the same numbers (tested bit
for bit), while importing ``scipy.stats`` costs every ``vigil`` start ~0.5 s of
CPU that a run of intervals and gates never needs (issue 18).

Example:
    >>> round(float(norm_ppf(0.975)), 6), float(norm_cdf(0.0)), float(norm_sf(0.0))
    (1.959964, 0.5, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special


def norm_ppf(q: Any) -> Any:
    """The standard normal's quantile at ``q`` (a float or an array)."""
    return special.ndtri(q)


def norm_cdf(x: Any) -> Any:
    """P(Z ≤ x) for a standard normal Z."""
    return special.ndtr(x)


def norm_sf(x: Any) -> Any:
    """P(Z > x) for a standard normal Z, accurate far into the upper tail (not ``1 - cdf``)."""
    return special.ndtr(np.negative(x))
