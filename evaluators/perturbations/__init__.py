"""Synthetic perturbations: one small file each, all in the :data:`PERTURBATIONS` registry.

Every perturbation is a pure, vectorised ``apply(values, severity, *, seed,
sample_ids, context)`` with five documented severities (0 is the identity) and
counter-based randomness (see :mod:`evaluators.perturbations.random`), so a
sample perturbs the same way on any worker and under any sharding.

Example:
    >>> import numpy as np
    >>> from evaluators.perturbations import PERTURBATIONS, BoundPerturbation, PerturbationContext
    >>> bound = BoundPerturbation("missing_values", 5, seed=0, context=PerturbationContext())
    >>> int(np.isnan(bound(np.ones((1000, 2)), np.arange(1000))).sum()) > 0
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import (
    ColumnStats,
    Perturbation,
    PerturbationContext,
    context_from_frame,
)
from evaluators.perturbations.brightness import Brightness
from evaluators.perturbations.casing import Casing
from evaluators.perturbations.category_typos import CategoryTypos
from evaluators.perturbations.char_swaps_drops import CharSwapsDrops
from evaluators.perturbations.contrast import Contrast
from evaluators.perturbations.dropout_bursts import DropoutBursts
from evaluators.perturbations.feature_swap import FeatureSwap
from evaluators.perturbations.gaussian_blur import GaussianBlur
from evaluators.perturbations.gaussian_noise import GaussianNoise
from evaluators.perturbations.image_gaussian_noise import ImageGaussianNoise
from evaluators.perturbations.keyboard_typos import KeyboardTypos
from evaluators.perturbations.label_noise import LabelNoise
from evaluators.perturbations.missing_values import MissingValues
from evaluators.perturbations.occlusion import Occlusion
from evaluators.perturbations.ocr_confusions import OcrConfusions
from evaluators.perturbations.offset_drift import OffsetDrift
from evaluators.perturbations.out_of_range import OutOfRange
from evaluators.perturbations.outliers import Outliers
from evaluators.perturbations.pixelation import Pixelation
from evaluators.perturbations.scale_error import ScaleError
from evaluators.perturbations.shot_noise import ShotNoise
from evaluators.perturbations.stale_values import StaleValues
from evaluators.perturbations.timing_jitter import TimingJitter
from evaluators.perturbations.unseen_categories import UnseenCategories
from evaluators.perturbations.whitespace import Whitespace
from evaluators.perturbations.word_dropout import WordDropout
from suite.name_checks import install_name_check
from suite.registry import Registry
from suite.sections import PerturbationSpec

PERTURBATIONS: Registry[Perturbation] = Registry("perturbation", Perturbation)
for _cls in (
    GaussianNoise, ScaleError, MissingValues, OutOfRange, Outliers, FeatureSwap, CategoryTypos,
    UnseenCategories, StaleValues,
    ImageGaussianNoise, ShotNoise, GaussianBlur, Occlusion, Brightness, Contrast, Pixelation,
    KeyboardTypos, CharSwapsDrops, OcrConfusions, Casing, Whitespace, WordDropout,
    TimingJitter, DropoutBursts, OffsetDrift,
    LabelNoise,
):  # fmt: skip
    PERTURBATIONS.register(_cls.name, _cls())


def _check_kind(kind: str) -> None:
    if kind not in PERTURBATIONS:
        raise ValueError(PERTURBATIONS.unknown_message(kind))


def _check_column_count(spec: PerturbationSpec) -> None:
    needed = PERTURBATIONS.get(spec.kind).column_count
    if needed is not None and len(spec.columns or ()) != needed:
        raise ValueError(f"{spec.kind} needs exactly {needed} columns, got {spec.columns}")


install_name_check("perturbations.kind", _check_kind)
install_name_check("perturbations.columns", _check_column_count)


@dataclass(frozen=True)
class BoundPerturbation:
    """One variant's perturbation with its seed and context bound; picklable, for Ray workers.

    Attributes:
        kind: registered perturbation name.
        severity: 0..5 (0 returns an unchanged copy).
        seed: the suite seed.
        context: columns to touch and reference statistics.
    """

    kind: str
    severity: int
    seed: int
    context: PerturbationContext

    def __post_init__(self) -> None:
        perturbation = PERTURBATIONS.get(self.kind)  # fail at binding time, not on a worker
        if self.severity != 0:
            perturbation.params(self.severity)

    @property
    def version(self) -> str:
        """The perturbation's version, to store with results."""
        return PERTURBATIONS.get(self.kind).version

    def __call__(self, values: NDArray, sample_ids: NDArray[np.int64]) -> NDArray:
        """Perturb one shard; rows stay in order, paired with ``sample_ids``."""
        return PERTURBATIONS.get(self.kind).apply(
            values, self.severity, seed=self.seed, sample_ids=sample_ids, context=self.context
        )


__all__ = [
    "PERTURBATIONS", "BoundPerturbation", "ColumnStats", "Perturbation", "PerturbationContext", "context_from_frame",
]  # fmt: skip
