"""The exact bootstrap of a metric whose rows fall into a few cells: resample the table, not the rows.

Accuracy, macro F1 and expected cost see a row only through its (true class,
predicted class) cell. A row bootstrap then only changes how many rows each
cell holds, and those counts are multinomial with the cells' shares as
probabilities: drawing ``B`` multinomial tables gives the bootstrap
distribution exactly, in ``O(cells · B)`` work whatever the number of rows.

Example:
    >>> import numpy as np
    >>> table = CellTable.of(np.array([3, 0, 3, 3]), np.array([[1.0], [0.0], [1.0], [1.0]]))
    >>> table.codes.tolist(), table.counts.tolist(), table.stats[:, 0].tolist()
    ([0, 3], [1, 3], [0.0, 1.0])
    >>> table.merge(table).counts.tolist()
    [2, 6]
    >>> table.resampled_sums(4, np.random.default_rng(0)).shape
    (4, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CellTable:
    """Rows counted per cell, with the per-row statistics every row of a cell shares.

    Attributes:
        codes: Occupied cells, sorted ``(C,)``.
        counts: Rows per cell ``(C,)``.
        stats: Statistics of one row of each cell ``(C, m)``.
    """

    codes: np.ndarray
    counts: np.ndarray
    stats: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, stats: np.ndarray) -> CellTable:
        """The table of rows with cells ``codes`` ``(n,)`` and statistics ``stats`` ``(n, m)``."""
        occupied, first, counts = np.unique(np.asarray(codes, dtype=np.int64), return_index=True, return_counts=True)
        return cls(occupied, counts.astype(np.int64), np.asarray(stats, dtype=np.float64)[first])

    @property
    def n(self) -> int:
        """Rows in the table."""
        return int(self.counts.sum())

    def add(self, codes: np.ndarray, stats: np.ndarray) -> CellTable:
        """This table with a chunk of rows added (tables are values: streaming folds with ``add``)."""
        return self.merge(CellTable.of(codes, stats))

    def merge(self, other: CellTable) -> CellTable:
        """The table of both tables' rows; a cell's statistics are those either table recorded."""
        codes = np.concatenate([self.codes, other.codes])
        occupied, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([self.counts, other.counts]), minlength=len(occupied))
        stats = np.concatenate([self.stats, other.stats])[first]
        return CellTable(occupied, counts.astype(np.int64), stats)

    def sums(self) -> np.ndarray:
        """Summed statistics of all rows ``(m,)``."""
        return self.counts.astype(np.float64) @ self.stats

    def resampled_sums(self, resamples: int, rng: np.random.Generator) -> np.ndarray:
        """Summed statistics of ``resamples`` row-bootstrap resamples ``(B, m)``, drawn as multinomial tables."""
        n = self.n
        tables = rng.multinomial(n, self.counts / n, size=resamples).astype(np.float64)
        return tables @ self.stats
