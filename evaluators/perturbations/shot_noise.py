"""shot_noise: photon (Poisson) noise, by its Gaussian approximation (ImageNet-C ladder).

A pixel at relative intensity ``p`` in [0, 1] of the reference range becomes
``p + sqrt(p / photons) * z`` (the normal approximation of ``Poisson(p * photons)
/ photons``), clipped, with ``photons`` = 60, 25, 12, 5, 3 (ImageNet-C). The
approximation keeps draws counter-based and shared across severities.

Example (2x2 image in [0, 1], seed 0, sample id 0, severity 1):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> ShotNoise().apply(np.full((1, 4), 0.5), 1, seed=0, sample_ids=np.array([0]),
    ...                   context=PerturbationContext(image_shape=(2, 2))).round(3).tolist()
    [[0.681, 0.598, 0.525, 0.649]]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, cast_like, image_view
from evaluators.perturbations.random import normal
from suite.spec import Frozen


class ShotNoiseParams(Frozen):
    """``photons``: photon count at full intensity; fewer photons means more noise."""

    photons: float


class ShotNoise(Perturbation[ShotNoiseParams]):
    """Intensity-dependent photon noise."""

    name = "shot_noise"
    family = "image"
    ladder = tuple(ShotNoiseParams(photons=p) for p in (60, 25, 12, 5, 3))

    def _apply(
        self, out: NDArray, params: ShotNoiseParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        low, high = context.value_range
        width = high - low if high > low else 1.0
        p = np.clip((image_view(out, context, self.name).reshape(len(out), -1) - low) / width, 0.0, 1.0)
        z = normal(seed, sample_ids[:, None], self.stream("z"), np.arange(p.shape[1])[None, :])
        noisy = np.clip(p + np.sqrt(p / params.photons) * z, 0.0, 1.0)
        return cast_like(low + noisy * width, out)
