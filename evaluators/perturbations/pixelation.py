"""pixelation: average blocks of pixels and blow them back up (ImageNet-C ladder).

Severity s resamples each image to ``scale`` = 0.6, 0.5, 0.4, 0.3, 0.25 of its
height and width (ImageNet-C) by box averaging, then back to full size by
nearest neighbour. Pixel ``i`` belongs to block ``floor(i * scale)``. No randomness.

Example (a 1x4 image, severity 4: scale 0.3 puts pixels 0..3 in blocks 0,0,0,0):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Pixelation().apply(np.array([[0.0, 1.0, 2.0, 3.0]]), 4, seed=0, sample_ids=np.array([0]),
    ...                    context=PerturbationContext(image_shape=(1, 4))).tolist()
    [[1.5, 1.5, 1.5, 1.5]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, image_view
from suite.spec import Frozen


class PixelationParams(Frozen):
    """``scale``: resampled size as a fraction of the original."""

    scale: float


def _box(images: NDArray[np.float64], axis: int, scale: float) -> NDArray[np.float64]:
    """Average runs of pixels along ``axis`` into blocks and expand them back."""
    block = np.floor(np.arange(images.shape[axis]) * scale).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    sums = np.add.reduceat(images, starts, axis=axis)
    counts = np.diff(np.r_[starts, images.shape[axis]]).astype(np.float64)
    shape = [1] * images.ndim
    shape[axis] = -1
    return np.take(sums / counts.reshape(shape), block, axis=axis)


class Pixelation(Perturbation[PixelationParams]):
    """Block-average pixelation."""

    name = "pixelation"
    family = "image"
    ladder = tuple(PixelationParams(scale=s) for s in (0.6, 0.5, 0.4, 0.3, 0.25))

    def _apply(
        self, out: NDArray, params: PixelationParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        images = _box(_box(image_view(out, context, self.name), 1, params.scale), 2, params.scale)
        return cast_like(images.reshape(out.shape), out)
