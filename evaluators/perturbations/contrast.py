"""contrast: pull every pixel towards its image's mean (ImageNet-C ladder).

Severity s maps ``x -> mean + keep * (x - mean)`` per image and channel, with
``keep`` = 0.4, 0.3, 0.2, 0.1, 0.05 (ImageNet-C). No randomness.

Example (one 2x2 image, severity 1):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Contrast().apply(np.array([[0.0, 1.0, 0.0, 1.0]]), 1, seed=0, sample_ids=np.array([0]),
    ...                  context=PerturbationContext(image_shape=(2, 2))).round(3).tolist()
    [[0.3, 0.7, 0.3, 0.7]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, image_view
from suite.spec import Frozen


class ContrastParams(Frozen):
    """``keep``: fraction of each pixel's deviation from the image mean that remains."""

    keep: float


class Contrast(Perturbation[ContrastParams]):
    """Contrast reduction."""

    name = "contrast"
    family = "image"
    ladder = tuple(ContrastParams(keep=k) for k in (0.4, 0.3, 0.2, 0.1, 0.05))

    def _apply(
        self, out: NDArray, params: ContrastParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        images = image_view(out, context, self.name)
        mean = images.mean(axis=(1, 2), keepdims=True)
        return cast_like((mean + params.keep * (images - mean)).reshape(out.shape), out)
