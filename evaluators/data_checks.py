"""A data-quality gate run on a dataset before any model sees it.

Plain pandas, not pandera: the checks are few (presence, dtype family, range,
missing rate, allowed values), and owning them keeps every message in Vigil's
one-line "expected X, got Y" form and the report a plain dataclass.

Example:
    >>> import pandas as pd
    >>> spec = DataChecksSpec(columns={"age": ColumnCheck(dtype="numeric", min=0, max=120)})
    >>> check_dataset(pd.DataFrame({"age": [30, 150]}), spec, "people.csv")
    Traceback (most recent call last):
    ...
    evaluators.data_checks.DataChecksFailed: data people.csv: column 'age': expected values <= 120, got 1 row above (largest 150)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from suite.errors import DataError
from suite.sections import ColumnCheck, DataChecksSpec

__all__ = ["ColumnCheck", "DataChecksSpec", "check_dataset"]

VERSION = "1"
@dataclass(frozen=True)
class CheckFailure:
    """One failed check: which column, which check, what was expected and what was found."""

    column: str
    check: Literal["required", "dtype", "min", "max", "missing", "allowed"]
    expected: str
    found: str
    rows: int

    def message(self) -> str:
        """``column 'c': expected X, got Y``."""
        return f"column {self.column!r}: expected {self.expected}, got {self.found}"


@dataclass(frozen=True)
class DataCheckReport:
    """Every failure found in one dataset; ``passed`` when there are none."""

    source: str
    n_rows: int
    failures: tuple[CheckFailure, ...]
    version: str = VERSION

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.failures

    def summary(self) -> str:
        """One line naming the file and the first failing column, and how many more failed."""
        if self.passed:
            return f"data {self.source}: all checks passed on {self.n_rows} rows"
        more = len(self.failures) - 1
        tail = f" (and {more} more failure{'s' if more > 1 else ''})" if more else ""
        return f"data {self.source}: {self.failures[0].message()}{tail}"


class DataChecksFailed(DataError):
    """A dataset failed its declared checks; ``report`` holds every failure."""

    def __init__(self, report: DataCheckReport) -> None:
        self.report = report
        super().__init__(report.summary())


_DTYPE_TESTS = {
    "int": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_float_dtype,
    "numeric": lambda s: pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s),
    "bool": pd.api.types.is_bool_dtype,
    "string": lambda s: pd.api.types.is_string_dtype(s) and s.dropna().map(type).eq(str).all(),
    "category": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
    "datetime": pd.api.types.is_datetime64_any_dtype,
}


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def _fmt(x: object) -> str:
    return f"{x:g}" if isinstance(x, float | np.floating) else repr(x) if isinstance(x, str) else str(x)


def _column_failures(name: str, column: pd.Series, check: ColumnCheck) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    if check.dtype is not None and not _DTYPE_TESTS[check.dtype](column):
        failures.append(CheckFailure(name, "dtype", f"dtype {check.dtype}", f"{column.dtype}", len(column)))
    present = column.dropna()
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if check.min is not None and numeric and (below := present[present < check.min]).size:
        found = f"{_rows(below.size)} below (smallest {_fmt(below.min())})"
        failures.append(CheckFailure(name, "min", f"values >= {_fmt(check.min)}", found, below.size))
    if check.max is not None and numeric and (above := present[present > check.max]).size:
        found = f"{_rows(above.size)} above (largest {_fmt(above.max())})"
        failures.append(CheckFailure(name, "max", f"values <= {_fmt(check.max)}", found, above.size))
    missing = int(column.isna().sum())
    if check.max_missing is not None and len(column) and missing / len(column) > check.max_missing:
        found = f"{missing / len(column):.1%} missing ({missing} of {len(column)} rows)"
        failures.append(CheckFailure(name, "missing", f"at most {check.max_missing:.1%} missing", found, missing))
    if check.allowed is not None and (outside := present[~present.isin(check.allowed)]).size:
        values = ", ".join(_fmt(v) for v in check.allowed)
        found = f"{_rows(outside.size)} outside (e.g. {_fmt(outside.iloc[0])})"
        failures.append(CheckFailure(name, "allowed", f"values in {{{values}}}", found, outside.size))
    return failures


def check_dataset(
    frame: pd.DataFrame, spec: DataChecksSpec, source_name: str, *, raise_on_failure: bool = True
) -> DataCheckReport:
    """Run every check of ``spec`` on ``frame``; raise :class:`DataChecksFailed` on failure unless told not to.

    Args:
        frame: the dataset as loaded.
        spec: the checks to run.
        source_name: the file (or loader) name used in messages.
        raise_on_failure: when False, return the failing report instead of raising.
    """
    failures: list[CheckFailure] = []
    for name in dict.fromkeys([*spec.required, *spec.columns]):
        if name not in frame.columns:
            failures.append(CheckFailure(name, "required", "a column of that name", "none", len(frame)))
        elif name in spec.columns:
            failures += _column_failures(name, frame[name], spec.columns[name])
    report = DataCheckReport(source_name, len(frame), tuple(failures))
    if raise_on_failure and not report.passed:
        raise DataChecksFailed(report)
    return report
