"""Reading one cell of a request-log row: numbers, lists of numbers, timestamps, class keys; never raising.

Used by :mod:`evaluators.shadow.request_log.rows`; every function takes any Python value
(what ``json.loads`` or a Parquet row gives) and answers without an exception.

Example:
    >>> is_number(True), as_float(10**400), finite_numbers([1, 2.5]), finite_numbers([1, float("nan")])
    (False, inf, True, False)
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np


def class_key(value: Any) -> str:
    """A class's lookup key: ``3``, ``3.0`` and ``"3"`` are the same class."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (np.integer, np.floating)):
        return class_key(value.item())
    return str(value)


def present(value: Any) -> bool:
    """False for None and NaN (a missing cell), True otherwise."""
    return not (value is None or (isinstance(value, float) and math.isnan(value)))


def is_number(v: Any) -> bool:
    """Whether ``v`` is an int or float (numpy's too), booleans excluded."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def as_float(v: Any) -> float:
    """A number as a float; an integer beyond a float's range as ±inf."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def number_or_reason(v: Any, name: str) -> float | str:
    """``v`` as a finite float, or ``wrong_type:<name>`` / ``non_finite:<name>``."""
    if not is_number(v):
        return f"wrong_type:{name}"
    value = as_float(v)
    return value if math.isfinite(value) else f"non_finite:{name}"


_PLAIN_NUMBERS = {int, float}


def finite_numbers(values: list[Any]) -> bool:
    """Whether every value is a finite int or float (one C-level pass; booleans are not numbers)."""
    if not set(map(type, values)) <= _PLAIN_NUMBERS:
        return False
    try:
        return math.isfinite(sum(values))  # NaN or ±inf anywhere makes the sum non-finite
    except OverflowError:  # an integer too large for a float
        return False


def whole(v: Any) -> int | None:
    """``v`` as an int when it is a whole number, else None."""
    return int(v) if is_number(v) and as_float(v).is_integer() else None


def float_list(v: Any) -> list[float] | None:
    """A non-empty list of numbers (or its JSON text) as floats, else None."""
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except (ValueError, RecursionError):
            return None
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 0 and all(is_number(x) for x in v):
        return [as_float(x) for x in v]
    return None


def utc_timestamp(v: Any) -> datetime | None:
    """A UTC datetime within pandas' range (years 1678 to 2261), or None."""
    try:
        ts = datetime.fromisoformat(v) if isinstance(v, str) else v if isinstance(v, datetime) else None
        if ts is None:
            return None
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return ts if _FIRST <= ts <= _LAST else None  # NaT compares False


_FIRST, _LAST = datetime(1678, 1, 2, tzinfo=UTC), datetime(2261, 12, 31, tzinfo=UTC)
