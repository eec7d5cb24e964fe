"""image_gaussian_noise: additive Gaussian pixel noise (ImageNet-C ladder).

Severity s adds ``sigma * (high - low) * z`` per pixel with ``sigma`` = 0.08,
0.12, 0.18, 0.26, 0.38 (ImageNet-C) of the reference pixel range, then clips to
the range. ``z`` is shared by all severities, so pixels move monotonically further.

Example (2x2 grey image in [0, 1], seed 0, sample id 0, severity 1):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> ImageGaussianNoise().apply(np.full((1, 4), 0.5), 1, seed=0, sample_ids=np.array([0]),
    ...                            context=PerturbationContext(image_shape=(2, 2))).round(3).tolist()
    [[0.564, 0.495, 0.52, 0.451]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, clip_to_range, image_view
from evaluators.perturbations.random import normal
from suite.spec import Frozen


class ImageGaussianNoiseParams(Frozen):
    """``sigma``: noise std as a fraction of the reference pixel range."""

    sigma: float


class ImageGaussianNoise(Perturbation[ImageGaussianNoiseParams]):
    """Additive Gaussian pixel noise, clipped."""

    name = "image_gaussian_noise"
    family = "image"
    ladder = tuple(ImageGaussianNoiseParams(sigma=s) for s in (0.08, 0.12, 0.18, 0.26, 0.38))

    def _apply(
        self, out: NDArray, params: ImageGaussianNoiseParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        images = image_view(out, context, self.name).reshape(len(out), -1)
        low, high = context.value_range
        z = normal(seed, sample_ids[:, None], self.stream("z"), np.arange(images.shape[1])[None, :])
        return cast_like(clip_to_range(images + params.sigma * (high - low) * z, context), out)
