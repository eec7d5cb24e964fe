"""Both models' predictions are paired chunk by chunk (pipeline/evaluate/score.py: aligned_chunks) for the gates and the error analysis."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.evaluate.score import aligned_chunks
from suite.errors import DataError


def _chunks(ids: np.ndarray, sizes: list[int], scale: float):
    at = 0
    for size in sizes:
        part = ids[at:at + size]
        yield part, part % 3, np.column_stack([part * scale, -part * scale])
        at += size


def test_differently_cut_streams_pair_row_for_row() -> None:
    ids = np.arange(100, 137)
    pieces = list(aligned_chunks(_chunks(ids, [10, 0, 20, 7], 1.0), _chunks(ids, [3, 30, 4], 2.0), where="w"))
    assert [len(a[0]) for a, _ in pieces] == [3, 7, 20, 3, 4]
    for (ids_a, y_a, s_a), (ids_b, _, s_b) in pieces:
        np.testing.assert_array_equal(ids_a, ids_b)
        np.testing.assert_array_equal(s_b, 2.0 * s_a)
    np.testing.assert_array_equal(np.concatenate([a[0] for a, _ in pieces]), ids)


def test_other_rows_or_row_counts_are_refused_with_where() -> None:
    ids = np.arange(20)
    with pytest.raises(DataError, match=r"^run r: .*same rows in the same order"):
        list(aligned_chunks(_chunks(ids, [20], 1.0), _chunks(ids[::-1].copy(), [20], 1.0), where="run r: predictions"))
    with pytest.raises(DataError, match="different row counts"):
        list(aligned_chunks(_chunks(ids, [20], 1.0), _chunks(ids[:15], [15], 1.0), where="run r"))
