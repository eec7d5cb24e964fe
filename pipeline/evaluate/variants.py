"""Variants of the evaluation data: ``clean``, or a perturbation at a severity.

A perturbed variant is made on the Ray workers: the driver binds the
perturbation to its severity, seed and reference statistics
(:class:`~evaluators.perturbations.BoundPerturbation`, picklable) and each actor
applies it to its shard from (seed, sample id). Label noise perturbs the
labels instead of the features, after inference.
"""

from __future__ import annotations

from evaluators.perturbations import PERTURBATIONS, BoundPerturbation
from evaluators.perturbations.base import context_from_frame
from evaluators.perturbations.spec import CLEAN, PerturbationSpec, parse_variant
from pipeline.evaluate.upstream import ablated_module, ablation_variants
from storage.datasets import LoadedDataset
from suite.errors import SpecError
from suite.spec import SuiteSpec


def variants_of(suite: SuiteSpec) -> list[str]:
    """Every variant the suite evaluates, clean first, in suite order, then upstream ablations."""
    names = [CLEAN]
    for spec in suite.perturbations:
        names += [v for v in spec.variants() if v not in names]
    return names + ablation_variants(suite)


def variant_versions(suite: SuiteSpec) -> dict[str, str]:
    """The version of each perturbation the suite uses (stored with the run)."""
    return {p.kind: PERTURBATIONS.get(p.kind).version for p in suite.perturbations}


def check_perturbations(suite: SuiteSpec, features: dict[str, list[str]]) -> None:
    """Each perturbation fits the suite: known columns, a shape for images, classes for labels."""
    seen: set[str] = set()
    for i, spec in enumerate(suite.perturbations):
        where = f"perturbations[{i}]"
        family = PERTURBATIONS.get(spec.kind).family
        if spec.kind in seen:
            raise SpecError(suite.source, f"{where}.kind", f"{spec.kind!r} is listed twice; give it once with all its severities")
        seen.add(spec.kind)
        for dataset, names in features.items():
            unknown = [c for c in spec.columns or () if c not in names]
            if unknown:
                raise SpecError(suite.source, f"{where}.columns", f"expected features of dataset {dataset!r}, got {unknown[0]!r}")
        if family == "image" and any(d.image_shape is None for d in suite.evaluation_datasets):
            raise SpecError(suite.source, f"{where}.kind", f"{spec.kind!r} is an image perturbation: the datasets need image_shape")
        if family == "label" and suite.task != "classification":
            raise SpecError(suite.source, f"{where}.kind", "label_noise needs a classification task")


def _spec_for(suite: SuiteSpec, kind: str) -> PerturbationSpec:
    return next(p for p in suite.perturbations if p.kind == kind)


def bound_perturbation(suite: SuiteSpec, data: LoadedDataset, variant: str, seed: int, num_classes: int | None) -> BoundPerturbation | None:
    """The perturbation of ``variant`` bound to its severity, seed and the data's statistics."""
    if ablated_module(variant) is not None:
        return None
    parsed = parse_variant(variant)
    if parsed is None:
        return None
    kind, severity = parsed
    spec = _spec_for(suite, kind)
    dataset = next(d for d in suite.datasets if d.name == data.name)
    context = context_from_frame(data.select(data.features), data.features, spec.columns, image_shape=dataset.image_shape, num_classes=num_classes)
    return BoundPerturbation(kind, severity, seed, context)


def is_label_variant(variant: str) -> bool:
    """Whether ``variant`` perturbs labels (applied after inference) rather than features."""
    if ablated_module(variant) is not None:
        return False
    parsed = parse_variant(variant)
    return parsed is not None and PERTURBATIONS.get(parsed[0]).family == "label"
