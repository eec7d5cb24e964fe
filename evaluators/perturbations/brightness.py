"""brightness: brighten every pixel by a fraction of the reference range (ImageNet-C ladder).

Severity s adds ``delta * (high - low)`` with ``delta`` = 0.1, 0.2, 0.3, 0.4, 0.5
(ImageNet-C's brightness shifts), clipped to the range. No randomness.

Example (pixels in [0, 1], severity 3):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Brightness().apply(np.array([[0.0, 0.5, 0.9, 1.0]]), 3, seed=0, sample_ids=np.array([0]),
    ...                    context=PerturbationContext(image_shape=(2, 2))).round(3).tolist()
    [[0.3, 0.8, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, clip_to_range, image_view
from suite.spec import Frozen


class BrightnessParams(Frozen):
    """``delta``: shift as a fraction of the reference pixel range."""

    delta: float


class Brightness(Perturbation[BrightnessParams]):
    """A global brightness shift."""

    name = "brightness"
    family = "image"
    ladder = tuple(BrightnessParams(delta=d) for d in (0.1, 0.2, 0.3, 0.4, 0.5))

    def _apply(
        self, out: NDArray, params: BrightnessParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        low, high = context.value_range
        images = image_view(out, context, self.name)
        return cast_like(clip_to_range(images + params.delta * (high - low), context).reshape(out.shape), out)
