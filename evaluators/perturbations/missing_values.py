"""missing_values: blank out cells (NaN) at a rate.

Severity s sets a fraction ``rate`` = 0.05, 0.1, 0.2, 0.35, 0.5 of the chosen cells
to NaN, independently per cell; cells blanked at s stay blank at every higher s.
Needs a float array (integers cannot hold NaN).

Example (seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> MissingValues().apply(np.ones((4, 1)), 5, seed=0, sample_ids=np.arange(4),
    ...                       context=PerturbationContext()).ravel().tolist()
    [nan, nan, 1.0, nan]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d, require_float
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class MissingValuesParams(Frozen):
    """``rate``: probability that a cell becomes NaN."""

    rate: float


class MissingValues(Perturbation[MissingValuesParams]):
    """Missing cells (NaN) at increasing rates."""

    name = "missing_values"
    family = "tabular"
    ladder = tuple(MissingValuesParams(rate=r) for r in (0.05, 0.1, 0.2, 0.35, 0.5))

    def _apply(
        self, out: NDArray, params: MissingValuesParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        require_float(out, self.name)
        cols = context.column_indices(out.shape[1])
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate
        block = out[:, cols]
        block[hit] = np.nan
        out[:, cols] = block
        return out
