"""occlusion: cover a square patch of each image with the darkest reference value.

Severity s covers one square of side ``size * min(H, W)`` (at least 1 px) with
``size`` = 0.1, 0.2, 0.3, 0.4, 0.5, filled with the reference minimum. The
patch's centre is drawn per sample and shared by all severities, so a stronger
patch covers a superset of the weaker one's pixels.

Example (4x4 image of ones, sample id 0, seed 0, severity 5: a 2x2 patch):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Occlusion().apply(np.ones((1, 16)), 5, seed=0, sample_ids=np.array([0]),
    ...                   context=PerturbationContext(image_shape=(4, 4))).reshape(4, 4).tolist()
    [[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, image_view
from evaluators.perturbations.random import uniform
from suite.spec import Frozen


class OcclusionParams(Frozen):
    """``size``: patch side as a fraction of the image's shorter side."""

    size: float


class Occlusion(Perturbation[OcclusionParams]):
    """A square occluding patch per image."""

    name = "occlusion"
    family = "image"
    ladder = tuple(OcclusionParams(size=s) for s in (0.1, 0.2, 0.3, 0.4, 0.5))

    def _apply(
        self, out: NDArray, params: OcclusionParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        images = image_view(out, context, self.name)
        n, h, w, _ = images.shape
        side = max(1, int(round(params.size * min(h, w))))
        centre_y = np.floor(uniform(seed, sample_ids, self.stream("y"), 0) * h).astype(np.int64)
        centre_x = np.floor(uniform(seed, sample_ids, self.stream("x"), 0) * w).astype(np.int64)
        top, left = centre_y - side // 2, centre_x - side // 2
        in_rows = (np.arange(h)[None, :] >= top[:, None]) & (np.arange(h)[None, :] < (top + side)[:, None])
        in_cols = (np.arange(w)[None, :] >= left[:, None]) & (np.arange(w)[None, :] < (left + side)[:, None])
        mask = in_rows[:, :, None] & in_cols[:, None, :]
        images[mask] = context.value_range[0]
        return cast_like(images.reshape(out.shape), out)
