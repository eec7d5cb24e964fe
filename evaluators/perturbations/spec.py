"""Suite sections for perturbations and robustness, and variant names.

A variant is ``"clean"`` or ``"<kind>:<severity>"`` (e.g. ``"gaussian_noise:3"``).

Example:
    >>> PerturbationSpec(kind="gaussian_noise", columns=["age"]).variants()
    ['gaussian_noise:1', 'gaussian_noise:2', 'gaussian_noise:3', 'gaussian_noise:4', 'gaussian_noise:5']
    >>> parse_variant("outliers:2"), parse_variant("clean")
    (('outliers', 2), None)
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from suite.errors import VigilError
from suite.spec import Frozen

CLEAN = "clean"


class PerturbationSpec(Frozen):
    """One perturbation to evaluate at several severities.

    Attributes:
        kind: a registered perturbation name (unknown names get a did-you-mean).
        columns: feature names to perturb; ``None`` means every feature.
        severities: severities 0..5 to evaluate (0 is the clean data again).
    """

    kind: str
    columns: list[str] | None = None
    severities: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        from evaluators.perturbations import PERTURBATIONS  # the registry imports the suite spec

        if kind not in PERTURBATIONS:
            raise ValueError(PERTURBATIONS.unknown_message(kind))
        return kind

    @field_validator("severities")
    @classmethod
    def _in_range(cls, severities: list[int]) -> list[int]:
        bad = [s for s in severities if not 0 <= s <= 5]
        if bad or not severities:
            raise ValueError(f"expected a non-empty list of severities in 0..5, got {severities}")
        return sorted(set(severities))

    @model_validator(mode="after")
    def _enough_columns(self) -> PerturbationSpec:
        from evaluators.perturbations import PERTURBATIONS

        needed = PERTURBATIONS.get(self.kind).column_count
        if needed is not None and len(self.columns or ()) != needed:
            raise ValueError(f"{self.kind} needs exactly {needed} columns, got {self.columns}")
        return self

    def variants(self) -> list[str]:
        """Variant names of this spec, in severity order."""
        return [variant_name(self.kind, s) for s in self.severities]


class RobustnessSpec(Frozen):
    """How robustness is judged.

    Attributes:
        tolerance: the largest acceptable drop of the primary metric vs clean, in metric units.
    """

    tolerance: float = Field(default=0.02, ge=0.0)


def variant_name(kind: str, severity: int) -> str:
    """``"kind:severity"``; severity 0 is the clean variant."""
    return CLEAN if severity == 0 else f"{kind}:{severity}"


def parse_variant(variant: str) -> tuple[str, int] | None:
    """``(kind, severity)`` of a variant name, or ``None`` for ``"clean"``."""
    from evaluators.perturbations import PERTURBATIONS

    if variant == CLEAN:
        return None
    kind, sep, severity = variant.rpartition(":")
    if not sep or not severity.isdigit() or not 1 <= int(severity) <= 5 or kind not in PERTURBATIONS:
        raise VigilError(f"variant {variant!r}: expected 'clean' or '<perturbation>:<1..5>'")
    return kind, int(severity)
