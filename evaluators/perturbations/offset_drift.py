"""offset_drift: a sensor's calibration drifts (an offset growing over time).

Rows are series over time. Severity s adds ``sign * amplitude * std_ref *
(0.5 + t / (T - 1))`` at step t (an offset of half the amplitude that grows to
1.5 times it), with the sign drawn per sample and ``std_ref`` the reference std
over all cells: ``amplitude`` = 0.1, 0.25, 0.5, 1.0, 2.0.

Example (reference std 1, seed 0, sample id 0, severity 4 on 3 steps):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> OffsetDrift().apply(np.zeros((1, 3)), 4, seed=0, sample_ids=np.array([0]),
    ...                     context=PerturbationContext()).tolist()
    [[-0.5, -1.0, -1.5]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import uniform
from suite.spec import Frozen


class OffsetDriftParams(Frozen):
    """``amplitude``: drift size in reference standard deviations."""

    amplitude: float


class OffsetDrift(Perturbation[OffsetDriftParams]):
    """A growing calibration offset per series."""

    name = "offset_drift"
    family = "series"
    ladder = tuple(OffsetDriftParams(amplitude=a) for a in (0.1, 0.25, 0.5, 1.0, 2.0))

    def _apply(
        self, out: NDArray, params: OffsetDriftParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        steps = out.shape[1]
        ramp = 0.5 + np.arange(steps) / max(steps - 1, 1)
        sign = np.where(uniform(seed, sample_ids, self.stream("sign"), 0) < 0.5, -1.0, 1.0)
        drift = sign[:, None] * params.amplitude * context.value_std * ramp[None, :]
        return cast_like(out + drift, out)
