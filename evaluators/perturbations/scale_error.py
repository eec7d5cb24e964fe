"""scale_error: a unit mix-up multiplies or divides some cells by a power of ten.

Severity s hits a fraction ``rate`` of cells, each multiplied by ``factor`` or by
``1 / factor`` (a fair coin per cell): (rate, factor) = (0.02, 10), (0.05, 10),
(0.1, 100), (0.2, 100), (0.4, 1000). Cells hit at severity s are hit at every
higher severity, by the same coin.

Example (seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> ScaleError().apply(np.full((4, 1), 2.0), 5, seed=0, sample_ids=np.arange(4),
    ...                    context=PerturbationContext()).ravel().tolist()
    [2.0, 0.002, 0.002, 2.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class ScaleErrorParams(Frozen):
    """``rate``: fraction of cells hit; ``factor``: the power of ten applied (or divided)."""

    rate: float
    factor: float


class ScaleError(Perturbation[ScaleErrorParams]):
    """Multiplicative unit-scale errors on numeric columns."""

    name = "scale_error"
    family = "tabular"
    ladder = tuple(
        ScaleErrorParams(rate=r, factor=f) for r, f in ((0.02, 10), (0.05, 10), (0.1, 100), (0.2, 100), (0.4, 1000))
    )

    def _apply(
        self, out: NDArray, params: ScaleErrorParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        u = cell_uniform(seed, sample_ids, self.stream("hit"), cols)
        up = cell_uniform(seed, sample_ids, self.stream("direction"), cols) < 0.5
        factor = np.where(u < params.rate, np.where(up, params.factor, 1.0 / params.factor), 1.0)
        out[:, cols] = cast_like(out[:, cols] * factor, out)
        return out
