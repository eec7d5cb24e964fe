"""Variants of the evaluation data: ``clean``, or a perturbation at a severity."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from storage.datasets import LoadedDataset
from suite.errors import VigilError
from suite.spec import SuiteSpec

Transform = Callable[[np.ndarray, np.ndarray], np.ndarray]


def variant_transform(suite: SuiteSpec, data: LoadedDataset, variant: str, seed: int) -> Transform | None:
    """The picklable transform the workers apply for ``variant`` (``None`` for clean)."""
    if variant == "clean":
        return None
    raise VigilError(f"suite {suite.source}: unknown variant {variant!r}")
