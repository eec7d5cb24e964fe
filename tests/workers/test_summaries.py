"""Drift summaries on real Ray tasks equal the single-process summary of all rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift.scale import drift_from_summaries, make_bins_spec, shard_summary
from workers.summaries import summarise_shards


@pytest.fixture()
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(size=4000), "c": rng.choice(list("abc"), 4000)})
    cur = pd.DataFrame({"x": rng.normal(0.3, 1.0, size=3000), "c": rng.choice(list("abcd"), 3000)})
    return ref, cur


def _same(a, b) -> None:
    for col in a:
        assert a[col].n == b[col].n and a[col].values == b[col].values
        assert a[col].mean == pytest.approx(b[col].mean) and a[col].m2 == pytest.approx(b[col].m2)
        if a[col].counts is not None:
            assert np.array_equal(a[col].counts, b[col].counts)


def test_frame_shards_merge_to_the_whole(local_ray, frames) -> None:
    ref, cur = frames
    spec = make_bins_spec(ref, ["x", "c"])
    merged = summarise_shards(cur, ["x", "c"], spec, num_shards=5)
    _same(merged, shard_summary(cur, ["x", "c"], spec))
    result = drift_from_summaries(shard_summary(ref, ["x", "c"], spec), merged)
    assert result.by_column()["x"].drifted and result.by_column()["x"].engine == "summaries"


def test_parquet_shards_are_read_on_the_workers(local_ray, frames, tmp_path: Path) -> None:
    _, cur = frames
    spec = make_bins_spec(cur, ["x", "c"])
    paths = []
    for i, part in enumerate(np.array_split(cur, 3)):
        paths.append(str(tmp_path / f"part-{i}.parquet"))
        part.to_parquet(paths[-1], index=False)
    _same(summarise_shards(paths, ["x", "c"], spec), shard_summary(cur, ["x", "c"], spec))
