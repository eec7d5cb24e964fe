"""Slice masks: "all" first, one per value, one per half-open bin, clear error for a missing column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluators.slices import slice_masks
from suite.errors import DataError
from suite.spec import SliceSpec

FRAME = pd.DataFrame({"label": [2, 0, 2, 1, 0], "age": [25.0, 30.0, 39.9, 40.0, np.nan]})


def test_value_and_bin_slices() -> None:
    masks = slice_masks(FRAME, [SliceSpec(column="label"), SliceSpec(column="age", bins=[20, 30, 40], name="age_band")])
    assert list(masks) == ["all", "label=0", "label=1", "label=2", "age_band=[20,30)", "age_band=[30,40)"]
    assert masks["all"].tolist() == [True] * 5
    assert masks["label=2"].tolist() == [True, False, True, False, False]
    assert masks["age_band=[20,30)"].tolist() == [True, False, False, False, False]
    # 30 opens the second bin; 40 and NaN fall outside both.
    assert masks["age_band=[30,40)"].tolist() == [False, True, True, False, False]


def test_fractional_edges_are_written_exactly() -> None:
    masks = slice_masks(FRAME, [SliceSpec(column="age", bins=[0.5, 35.25])])
    assert list(masks) == ["all", "age=[0.5,35.25)"]


def test_missing_column_names_it_and_the_available_ones() -> None:
    with pytest.raises(DataError, match=r"column 'region' not found; available columns: label, age"):
        slice_masks(FRAME, [SliceSpec(column="region")])


def test_bins_must_increase() -> None:
    with pytest.raises(DataError, match="increasing bin edges"):
        slice_masks(FRAME, [SliceSpec(column="age", bins=[40, 30])])
