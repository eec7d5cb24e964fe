"""label_noise: flip class labels to another class at a rate.

Applies to ``y`` (int class indices 0..k-1, ``context.num_classes`` = k). Severity
s flips a fraction ``rate`` = 0.05, 0.1, 0.2, 0.3, 0.5 of labels to a different
class drawn uniformly among the other k-1; labels flipped at s are flipped (to
the same class) at every higher s.

Example (k = 3, seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> LabelNoise().apply(np.array([0, 1, 2, 0]), 5, seed=0, sample_ids=np.arange(4),
    ...                    context=PerturbationContext(num_classes=3)).tolist()
    [2, 1, 0, 0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext
from evaluators.perturbations.random import integers, uniform
from suite.errors import VigilError
from suite.spec import Frozen


class LabelNoiseParams(Frozen):
    """``rate``: fraction of labels flipped."""

    rate: float


class LabelNoise(Perturbation[LabelNoiseParams]):
    """Symmetric label noise."""

    name = "label_noise"
    family = "label"
    ladder = tuple(LabelNoiseParams(rate=r) for r in (0.05, 0.1, 0.2, 0.3, 0.5))

    def _apply(
        self, out: NDArray, params: LabelNoiseParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        k = context.num_classes
        if k is None or k < 2 or out.ndim != 1 or not np.issubdtype(out.dtype, np.integer):
            raise VigilError(f"perturbation {self.name}: expected 1-D int labels and num_classes >= 2, "
                             f"got {out.dtype} {out.shape} and num_classes={k}")
        hit = uniform(seed, sample_ids, self.stream("hit"), 0) < params.rate
        step = integers(seed, sample_ids, self.stream("class"), 0, 1, k)
        return np.where(hit, (out + step) % k, out).astype(out.dtype)
