"""outliers: add spikes of several reference standard deviations to some cells.

Severity s hits a fraction ``rate`` of cells and adds ``+- magnitude * std_ref``
(fair coin for the sign): (rate, magnitude) = (0.01, 3), (0.02, 4), (0.05, 5),
(0.1, 7), (0.2, 10).

Example (std_ref = 1, seed 0, sample ids 0..5, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Outliers().apply(np.zeros((6, 1)), 5, seed=0, sample_ids=np.arange(6),
    ...                  context=PerturbationContext()).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, -10.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class OutliersParams(Frozen):
    """``rate``: fraction of cells hit; ``magnitude``: spike size in reference stds."""

    rate: float
    magnitude: float


class Outliers(Perturbation[OutliersParams]):
    """Additive spikes (gross outliers) on numeric columns."""

    name = "outliers"
    family = "tabular"
    ladder = tuple(OutliersParams(rate=r, magnitude=m) for r, m in ((0.01, 3), (0.02, 4), (0.05, 5), (0.1, 7), (0.2, 10)))

    def _apply(
        self, out: NDArray, params: OutliersParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        std = np.array([context.stat(int(c)).std for c in cols])
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate
        sign = np.where(cell_uniform(seed, sample_ids, self.stream("sign"), cols) < 0.5, -1.0, 1.0)
        out[:, cols] = cast_like(out[:, cols] + hit * sign * params.magnitude * std, out)
        return out
