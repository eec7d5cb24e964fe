"""dropout_bursts: a sensor goes silent (NaN) for contiguous stretches.

Rows are series over time. Severity s blanks ``bursts`` stretches of
``length * T`` steps (at least one) each, starting at drawn positions:
(bursts, length) = (1, 0.05), (1, 0.1), (2, 0.1), (2, 0.2), (3, 0.25).
Burst k starts at the same step for every severity that has it, so the blanked
steps at s are blanked at every higher s. Needs a float array.

Example (seed 0, sample id 0, severity 3 on 10 steps: two 1-step bursts):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> DropoutBursts().apply(np.arange(10.0)[None, :], 3, seed=0, sample_ids=np.array([0]),
    ...                       context=PerturbationContext()).tolist()
    [[0.0, 1.0, 2.0, nan, 4.0, nan, 6.0, 7.0, 8.0, 9.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d, require_float
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class DropoutBurstsParams(Frozen):
    """``bursts``: number of silent stretches; ``length``: each one's length as a fraction of the series."""

    bursts: int
    length: float


class DropoutBursts(Perturbation[DropoutBurstsParams]):
    """Contiguous missing stretches in each series."""

    name = "dropout_bursts"
    family = "series"
    ladder = tuple(
        DropoutBurstsParams(bursts=b, length=x) for b, x in ((1, 0.05), (1, 0.1), (2, 0.1), (2, 0.2), (3, 0.25))
    )

    def _apply(
        self, out: NDArray, params: DropoutBurstsParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        require_float(out, self.name)
        steps = out.shape[1]
        span = max(1, int(round(params.length * steps)))
        starts = np.floor(cell_uniform(seed, sample_ids, self.stream("start"), np.arange(params.bursts)) * steps)
        t = np.arange(steps)[None, None, :]
        inside = (t >= starts[:, :, None]) & (t < starts[:, :, None] + span)
        out[inside.any(axis=1)] = np.nan
        return out
