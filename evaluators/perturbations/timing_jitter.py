"""timing_jitter: samples read at the wrong moment (clock jitter).

Rows are series over time (columns are time steps). Each step is jittered with
probability ``rate`` and then takes the value from ``t + shift``, ``shift`` a
non-zero integer in ``[-max_shift, max_shift]`` (clamped to the series):
(rate, max_shift) = (0.05, 1), (0.1, 1), (0.2, 2), (0.3, 2), (0.5, 3).

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> TimingJitter().apply(np.arange(6.0)[None, :], 5, seed=0, sample_ids=np.array([0]),
    ...                      context=PerturbationContext()).tolist()
    [[0.0, 4.0, 3.0, 2.0, 5.0, 5.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen


class TimingJitterParams(Frozen):
    """``rate``: fraction of steps jittered; ``max_shift``: largest shift in steps."""

    rate: float
    max_shift: int


class TimingJitter(Perturbation[TimingJitterParams]):
    """Per-step time shifts within each series."""

    name = "timing_jitter"
    family = "series"
    ladder = tuple(
        TimingJitterParams(rate=r, max_shift=m) for r, m in ((0.05, 1), (0.1, 1), (0.2, 2), (0.3, 2), (0.5, 3))
    )

    def _apply(
        self, out: NDArray, params: TimingJitterParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        steps = np.arange(out.shape[1])
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), steps) < params.rate
        size = 1 + np.floor(cell_uniform(seed, sample_ids, self.stream("size"), steps) * params.max_shift)
        sign = np.where(cell_uniform(seed, sample_ids, self.stream("sign"), steps) < 0.5, -1, 1)
        source = np.clip(steps[None, :] + hit * sign * size.astype(np.int64), 0, out.shape[1] - 1)
        return np.take_along_axis(out, source, axis=1)
