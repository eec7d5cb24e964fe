"""The data-quality gate: one exact message per failure kind, and the full report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluators.data_checks import ColumnCheck, DataChecksFailed, DataChecksSpec, check_dataset
from suite.errors import DataError

FRAME = pd.DataFrame(
    {
        "age": [30, 45, 150, -2],
        "income": [1.0, np.nan, np.nan, 4.0],
        "city": ["paris", "rome", "oslo", "rome"],
        "flag": [True, False, True, True],
    }
)


def message(spec: DataChecksSpec) -> str:
    with pytest.raises(DataChecksFailed) as info:
        check_dataset(FRAME, spec, "people.parquet")
    assert isinstance(info.value, DataError)
    return str(info.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (DataChecksSpec(required=["zip"]), "column 'zip': expected a column of that name, got none"),
        (DataChecksSpec(columns={"city": ColumnCheck(dtype="numeric")}), "column 'city': expected dtype numeric, got object"),
        (DataChecksSpec(columns={"flag": ColumnCheck(dtype="numeric")}), "column 'flag': expected dtype numeric, got bool"),
        (DataChecksSpec(columns={"age": ColumnCheck(dtype="float")}), "column 'age': expected dtype float, got int64"),
        (DataChecksSpec(columns={"age": ColumnCheck(min=0)}), "column 'age': expected values >= 0, got 1 row below (smallest -2)"),
        (DataChecksSpec(columns={"age": ColumnCheck(max=100.5)}), "column 'age': expected values <= 100.5, got 1 row above (largest 150)"),
        (DataChecksSpec(columns={"income": ColumnCheck(max_missing=0.25)}),
         "column 'income': expected at most 25.0% missing, got 50.0% missing (2 of 4 rows)"),
        (DataChecksSpec(columns={"city": ColumnCheck(allowed=["paris", "rome"])}),
         "column 'city': expected values in {'paris', 'rome'}, got 1 row outside (e.g. 'oslo')"),
    ],
)
def test_each_failure_kind_has_an_exact_message(spec: DataChecksSpec, expected: str) -> None:
    assert message(spec) == f"data people.parquet: {expected}"


def test_all_failures_are_reported_and_summarised_on_one_line() -> None:
    spec = DataChecksSpec(
        required=["zip", "age"],
        columns={"age": ColumnCheck(dtype="int", min=0, max=120), "income": ColumnCheck(dtype="float", max_missing=0.1)},
    )
    report = check_dataset(FRAME, spec, "people.parquet", raise_on_failure=False)
    assert not report.passed and report.n_rows == 4
    assert [(f.column, f.check, f.rows) for f in report.failures] == [
        ("zip", "required", 4), ("age", "min", 1), ("age", "max", 1), ("income", "missing", 2)
    ]
    with pytest.raises(DataChecksFailed) as info:
        check_dataset(FRAME, spec, "people.parquet")
    assert str(info.value) == "data people.parquet: column 'zip': expected a column of that name, got none (and 3 more failures)"
    assert info.value.report == report and "\n" not in str(info.value)


def test_a_clean_frame_passes() -> None:
    spec = DataChecksSpec(
        required=["flag"],
        columns={
            "age": ColumnCheck(dtype="int", min=-5, max=150),
            "city": ColumnCheck(dtype="string", allowed=["paris", "rome", "oslo"], max_missing=0.0),
            "flag": ColumnCheck(dtype="bool"),
            "income": ColumnCheck(dtype="numeric", max_missing=0.5),
        },
    )
    report = check_dataset(FRAME, spec, "people.parquet")
    assert report.passed and report.summary() == "data people.parquet: all checks passed on 4 rows"
