"""gaussian_blur: blur each image with a Gaussian kernel (no randomness).

Severity s blurs height and width (not channels) with ``sigma`` = 0.5, 1, 1.5,
2, 3 pixels (ImageNet-C uses 1..6 on 224 px; these suit 8..64 px images),
reflecting at the borders.

Example (a single bright pixel in a 3x3 image, severity 1):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> img = np.zeros((1, 9)); img[0, 4] = 1.0
    >>> GaussianBlur().apply(img, 1, seed=0, sample_ids=np.array([0]),
    ...                      context=PerturbationContext(image_shape=(3, 3))).round(3).tolist()
    [[0.011, 0.084, 0.011, 0.084, 0.619, 0.084, 0.011, 0.084, 0.011]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, image_view
from suite.spec import Frozen


class GaussianBlurParams(Frozen):
    """``sigma``: kernel standard deviation in pixels."""

    sigma: float


class GaussianBlur(Perturbation[GaussianBlurParams]):
    """Defocus-like Gaussian blur."""

    name = "gaussian_blur"
    family = "image"
    ladder = tuple(GaussianBlurParams(sigma=s) for s in (0.5, 1.0, 1.5, 2.0, 3.0))

    def _apply(
        self, out: NDArray, params: GaussianBlurParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        images = image_view(out, context, self.name)
        blurred = gaussian_filter(images, sigma=(0.0, params.sigma, params.sigma, 0.0), mode="reflect")
        return cast_like(blurred.reshape(out.shape), out)
