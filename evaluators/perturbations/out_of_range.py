"""out_of_range: corrupt cells to values beyond the reference [min, max].

Severity s hits a fraction ``rate`` of cells and sets each to ``max + d`` or
``min - d`` (fair coin), where ``d = overshoot * (max - min) * (1 + u)`` and ``u``
is uniform in [0, 1): (rate, overshoot) = (0.02, 0.1), (0.05, 0.25), (0.1, 0.5),
(0.2, 1.0), (0.3, 2.0).

Example (reference range [0, 1], seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import ColumnStats, PerturbationContext
    >>> ctx = PerturbationContext(stats=(ColumnStats(min=0.0, max=1.0),))
    >>> OutOfRange().apply(np.full((4, 1), 0.5), 5, seed=0, sample_ids=np.arange(4),
    ...                    context=ctx).ravel().round(2).tolist()
    [0.5, 0.5, 0.5, 4.61]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class OutOfRangeParams(Frozen):
    """``rate``: fraction of cells hit; ``overshoot``: distance past the range, in range widths."""

    rate: float
    overshoot: float


class OutOfRange(Perturbation[OutOfRangeParams]):
    """Values pushed outside the reference range."""

    name = "out_of_range"
    family = "tabular"
    ladder = tuple(
        OutOfRangeParams(rate=r, overshoot=o) for r, o in ((0.02, 0.1), (0.05, 0.25), (0.1, 0.5), (0.2, 1.0), (0.3, 2.0))
    )

    def _apply(
        self, out: NDArray, params: OutOfRangeParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        stats = [context.stat(int(c)) for c in cols]
        low, high = np.array([s.min for s in stats]), np.array([s.max for s in stats])
        width = np.where(high > low, high - low, 1.0)
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate
        above = cell_uniform(seed, sample_ids, self.stream("side"), cols) < 0.5
        distance = params.overshoot * width * (1.0 + cell_uniform(seed, sample_ids, self.stream("distance"), cols))
        corrupt = np.where(above, high + distance, low - distance)
        out[:, cols] = cast_like(np.where(hit, corrupt, out[:, cols]), out)
        return out
