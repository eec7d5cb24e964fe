"""gaussian_noise: add zero-mean Gaussian noise scaled by each column's reference std.

Severity s adds ``sigma[s] * std_ref * z`` with ``sigma = 0.1, 0.25, 0.5, 1.0, 2.0``;
``z`` does not depend on the severity, so every cell moves further as s grows.
NaN stays NaN; integer columns are rounded back to their dtype.

Example (std_ref = 1, seed 0, sample id 0):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> GaussianNoise().apply(np.array([[1.0, 2.0]]), 5, seed=0, sample_ids=np.array([0]),
    ...                       context=PerturbationContext()).round(3)
    array([[-1.917,  1.394]])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, require_2d
from evaluators.perturbations.random import cell_normal
from suite.spec import Frozen


class GaussianNoiseParams(Frozen):
    """``sigma``: noise std as a multiple of the column's reference std."""

    sigma: float


class GaussianNoise(Perturbation[GaussianNoiseParams]):
    """Additive Gaussian noise on numeric columns."""

    name = "gaussian_noise"
    family = "tabular"
    ladder = tuple(GaussianNoiseParams(sigma=s) for s in (0.1, 0.25, 0.5, 1.0, 2.0))

    def _apply(
        self, out: NDArray, params: GaussianNoiseParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        scale = np.array([context.stat(int(c)).std for c in cols]) * params.sigma
        noisy = out[:, cols] + cell_normal(seed, sample_ids, self.stream("z"), cols) * scale
        out[:, cols] = cast_like(noisy, out)
        return out
