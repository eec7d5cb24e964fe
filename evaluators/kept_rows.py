"""Rows that slices keep while scored in chunks, stored once however many slices hold them.

A row of ``all`` and of one ``segment`` slice was kept twice when each slice kept its own
copy: 88 bytes per row for 10 float32 scores and an int32 label, 880 MB at 10M rows.
:class:`KeptRows` stores each chunk's needed rows once, as they came, and a slice keeps
only where its rows are in each stored chunk (:data:`Positions`: nothing for a chunk it holds
whole, int32 positions otherwise, 4 bytes per row). A slice's rows are gathered in arrival
order when it is scored: whole, or one score column at a time for DeLong
(:class:`~evaluators.intervals.delong.ScoreColumns`).

Example:
    >>> kept = KeptRows()
    >>> y, scores = np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> everything, ones = kept.add(y, scores, {"all": np.ones(3, bool), "y=1": y == 1})
    >>> kept.rows([everything])[0].tolist(), kept.column([ones], 1).tolist()
    ([0, 1, 1], [0.8, 0.4])
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: ``(stored chunk, positions of the slice's rows in it)``; None positions: all of its rows.
Positions = tuple[int, np.ndarray | None]


class KeptRows:
    """Labels and scores of the rows that some slice keeps, one copy per row, in arrival order."""

    def __init__(self) -> None:
        self._y: list[np.ndarray | None] = []
        self._scores: list[np.ndarray | None] = []

    def add(self, y: np.ndarray, scores: np.ndarray, masks: dict[str, np.ndarray]) -> list[Positions]:
        """Store a chunk's rows that any of ``masks`` (the keeping slices') holds; each mask's positions in it.

        The rows are copied as they are (int32 labels and float32 scores from the cache stay so).
        """
        union = np.logical_or.reduce(list(masks.values())) if len(masks) > 1 else next(iter(masks.values()))
        whole = bool(union.all())
        chunk = len(self._y)
        self._y.append(y.copy() if whole else y[union])
        self._scores.append(scores.copy() if whole else scores[union])
        positions = []
        for mask in masks.values():
            inside = mask if whole else mask[union]
            positions.append((chunk, None if inside.all() else np.flatnonzero(inside).astype(np.int32)))
        return positions

    def keep_only(self, chunks: Iterable[int]) -> None:
        """Drop the stored chunks not in ``chunks`` (no slice keeps rows there any more)."""
        needed = set(chunks)
        for chunk in range(len(self._y)):
            if chunk not in needed:
                self._y[chunk] = self._scores[chunk] = None

    def rows(self, kept: list[Positions]) -> tuple[np.ndarray, np.ndarray]:
        """A slice's labels and scores ``(n,)``, ``(n, …)``, as whole arrays in arrival order."""
        return self._gathered(self._y, kept, ()), self._gathered(self._scores, kept, ())

    def labels(self, kept: list[Positions]) -> np.ndarray:
        """A slice's labels ``(n,)``."""
        return self._gathered(self._y, kept, ())

    def column(self, kept: list[Positions], c: int) -> np.ndarray:
        """A slice's scores of class ``c`` ``(n,)``, never its other columns."""
        return self._gathered(self._scores, kept, (c,))

    @staticmethod
    def _gathered(stored: list[np.ndarray | None], kept: list[Positions], columns: tuple[int, ...]) -> np.ndarray:
        sizes = [len(stored[chunk]) if at is None else len(at) for chunk, at in kept]  # type: ignore[arg-type]
        first = stored[kept[0][0]]
        assert first is not None  # a kept chunk is stored
        whole = np.empty((sum(sizes), *first.shape[1 + len(columns):]), dtype=first.dtype)
        start = 0
        for (chunk, at), size in zip(kept, sizes):
            rows = stored[chunk]
            assert rows is not None
            whole[start:start + size] = rows[(slice(None) if at is None else at, *columns)]
            start += size
        return whole
