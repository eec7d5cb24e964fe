"""A drift check is one object: registering it is all it takes to run it on frames and on summaries."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from drift.checks import DRIFT_CHECKS, DriftCheck, check_column
from drift.scale import drift_from_summaries, make_bins_spec, merge_summaries, shard_summary
from suite.sections import DriftSpec

NAME = "mean_gap"


def _gap(mean_ref: float, std_ref: float, mean_cur: float) -> float:
    return abs(mean_cur - mean_ref) / std_ref if std_ref > 0 else 0.0


MEAN_GAP = DriftCheck(
    name=NAME,
    score_kind="distance",
    default_threshold=0.1,
    kinds=("numerical",),
    evidently_name=None,
    score=lambda r, c: _gap(float(r.mean()), float(r.std(ddof=0)), float(c.mean())),
    from_summaries=lambda r, c: _gap(r.mean, r.std, c.mean),
)
"""Gap of the means in reference standard deviations, defined here and nowhere else."""


@pytest.fixture()
def mean_gap() -> Iterator[DriftCheck]:
    DRIFT_CHECKS.register(NAME, MEAN_GAP)
    try:
        yield MEAN_GAP
    finally:
        del DRIFT_CHECKS._items[NAME]  # the registry has no public removal: products never unregister


def test_a_new_check_runs_on_frames_and_on_summaries(mean_gap: DriftCheck) -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=4000)})
    current = pd.DataFrame({"x": rng.normal(0.3, size=4000)})
    assert DriftSpec(reference="r", methods={"x": NAME}).methods == {"x": NAME}  # the suite accepts its name

    on_frame = check_column(reference["x"], current["x"], method=NAME)
    bins = make_bins_spec(reference, ["x"])
    shards = [shard_summary(current.iloc[i::3], ["x"], bins) for i in range(3)]
    on_summaries = drift_from_summaries(shard_summary(reference, ["x"], bins), merge_summaries(shards),
                                        per_column_method={"x": NAME}).columns[0]

    assert (on_frame.method, on_frame.score_kind, on_frame.engine) == (NAME, "distance", "checks")
    assert (on_summaries.method, on_summaries.engine) == (NAME, "summaries")
    assert on_summaries.score == pytest.approx(on_frame.score, rel=1e-9) and on_frame.score > 0.2
    assert on_frame.drifted and on_summaries.drifted and on_summaries.threshold == 0.1
