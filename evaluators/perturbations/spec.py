"""Suite sections for perturbations and robustness, and variant names.

A variant is ``"clean"`` or ``"<kind>:<severity>"`` (e.g. ``"gaussian_noise:3"``).

Example:
    >>> PerturbationSpec(kind="gaussian_noise", columns=["age"]).variants()
    ['gaussian_noise:1', 'gaussian_noise:2', 'gaussian_noise:3', 'gaussian_noise:4', 'gaussian_noise:5']
    >>> parse_variant("outliers:2"), parse_variant("clean")
    (('outliers', 2), None)
"""

from __future__ import annotations

from suite.errors import VigilError
from suite.sections import CLEAN, PerturbationSpec, RobustnessSpec, variant_name

__all__ = ["CLEAN", "PerturbationSpec", "RobustnessSpec", "parse_variant", "variant_name"]


def parse_variant(variant: str) -> tuple[str, int] | None:
    """``(kind, severity)`` of a variant name, or ``None`` for ``"clean"``."""
    from evaluators.perturbations import PERTURBATIONS

    if variant == CLEAN:
        return None
    kind, sep, severity = variant.rpartition(":")
    if not sep or not severity.isdigit() or not 1 <= int(severity) <= 5 or kind not in PERTURBATIONS:
        raise VigilError(f"variant {variant!r}: expected 'clean' or '<perturbation>:<1..5>'")
    return kind, int(severity)
