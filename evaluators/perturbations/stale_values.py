"""stale_values: a column stops updating and repeats an old value.

Each chosen column gets one stale value for the whole run: the reference
quantile at a level drawn from the seed alone (so every worker agrees). Severity
s writes it into a fraction ``rate`` = 0.1, 0.25, 0.5, 0.75, 1.0 of each column's cells; cells
stale at s are stale at every higher s.

Example (reference quantiles of 0..100, seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import QUANTILE_LEVELS, ColumnStats, PerturbationContext
    >>> ctx = PerturbationContext(stats=(ColumnStats(quantiles=tuple(100 * q for q in QUANTILE_LEVELS)),))
    >>> StaleValues().apply(np.zeros((4, 1)), 5, seed=0, sample_ids=np.arange(4),
    ...                     context=ctx).ravel().round(1).tolist()
    [71.0, 71.0, 71.0, 71.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import cell_uniform, uniform
from suite.spec import Frozen


class StaleValuesParams(Frozen):
    """``rate``: fraction of rows that carry the stale value."""

    rate: float


class StaleValues(Perturbation[StaleValuesParams]):
    """A column frozen to an old value in some rows."""

    name = "stale_values"
    family = "tabular"
    ladder = tuple(StaleValuesParams(rate=r) for r in (0.1, 0.25, 0.5, 0.75, 1.0))

    def _apply(
        self, out: NDArray, params: StaleValuesParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        levels = 0.05 + 0.9 * uniform(seed, np.zeros(1, dtype=np.int64), self.stream("level"), cols)
        stale = np.array([float(context.stat(int(c)).quantile(q)) for c, q in zip(cols, levels)])
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate
        out[:, cols] = cast_like(np.where(hit, stale, out[:, cols]), out)
        return out
