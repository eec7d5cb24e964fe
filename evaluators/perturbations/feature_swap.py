"""feature_swap: exchange the values of two columns in some rows (a mis-wired pipeline).

``context.columns`` must name exactly two columns. Severity s swaps them in a
fraction ``rate`` = 0.1, 0.25, 0.5, 0.75, 1.0 of rows; rows swapped at s are
swapped at every higher s.

Example (seed 0, sample ids 0..1, severity 5 swaps every row):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> FeatureSwap().apply(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 5, seed=0,
    ...                     sample_ids=np.arange(2), context=PerturbationContext(columns=(0, 2))).tolist()
    [[3.0, 2.0, 1.0], [6.0, 5.0, 4.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d
from evaluators.perturbations.random import uniform
from suite.errors import VigilError
from suite.spec import Frozen


class FeatureSwapParams(Frozen):
    """``rate``: fraction of rows whose two columns are exchanged."""

    rate: float


class FeatureSwap(Perturbation[FeatureSwapParams]):
    """Row-wise exchange of two columns."""

    name = "feature_swap"
    family = "tabular"
    column_count = 2
    ladder = tuple(FeatureSwapParams(rate=r) for r in (0.1, 0.25, 0.5, 0.75, 1.0))

    def _apply(
        self, out: NDArray, params: FeatureSwapParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        if cols.size != self.column_count:
            raise VigilError(f"perturbation {self.name}: expected exactly {self.column_count} columns, got {cols.size}")
        a, b = int(cols[0]), int(cols[1])
        rows = uniform(seed, sample_ids, self.stream("hit"), 0) < params.rate
        out[rows, a], out[rows, b] = out[rows, b], out[rows, a].copy()
        return out
