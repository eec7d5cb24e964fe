"""Upstream modules of a suite: feature transforms applied before the models, and their ablations.

Each module is a ``file.py:function`` mapping a batch of features to a batch of
features. It runs on the workers (after any perturbation), so the driver ships
only file paths. A module with a ``previous`` version adds the variant
``ablation@<name>``: clean data through the pipeline with only that module
rolled back. The change attributed to the module is then
``metric(clean) − metric(ablation@<name>)`` on the same rows, with a paired
bootstrap CI.

Example:
    >>> ablation_variant("scaler"), ablated_module("ablation@scaler"), ablated_module("clean")
    ('ablation@scaler', 'scaler', None)
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from evaluators.metrics import METRICS
from evaluators.statistics import paired_bootstrap_diff
from pipeline.plan import RunPlan
from pipeline.score import prediction_arrays
from storage.cache import PredictionCache
from storage.checksums import sha256_file
from storage.datasets import SAMPLE_ID
from suite.errors import ChecksumError, SpecError
from suite.settings import Settings
from suite.spec import SuiteSpec, UpstreamVersion

ABLATION = "ablation@"

Transform = Callable[[Any, Any], Any]


def ablation_variant(module: str) -> str:
    """The variant that rolls ``module`` back to its previous version."""
    return f"{ABLATION}{module}"


def ablated_module(variant: str) -> str | None:
    """The module a variant rolls back, or None when it is not an ablation."""
    return variant[len(ABLATION):] if variant.startswith(ABLATION) else None


def ablation_variants(suite: SuiteSpec) -> list[str]:
    """One ablation variant per upstream module that names a previous version."""
    return [ablation_variant(m.name) for m in suite.upstream if m.previous is not None]


def _file(suite: SuiteSpec, version: UpstreamVersion, where: str) -> Path:
    path = suite.resolve(version.module.split(":")[0])
    if not path.is_file():
        raise SpecError(suite.source, f"{where}.module", f"expected a Python file, got {path} (not found)")
    if version.sha256 and sha256_file(path) != version.sha256:
        raise ChecksumError(f"suite {suite.source}: {where}.sha256: expected {version.sha256[:12]}…, file has {sha256_file(path)[:12]}…")
    return path


def upstream_digest(suite: SuiteSpec) -> str | None:
    """sha256 over every upstream module's current and previous file (None when there are none).

    Folded into each model's sha in the plan, so a changed module misses the prediction cache.
    """
    if not suite.upstream:
        return None
    digest = hashlib.sha256()
    for i, module in enumerate(suite.upstream):
        for version, where in ((module, f"upstream[{i}]"), (module.previous, f"upstream[{i}].previous")):
            if version is not None:
                digest.update(f"{module.name}:{version.module}:{sha256_file(_file(suite, version, where))}".encode())
    return digest.hexdigest()


@lru_cache(maxsize=32)
def _load(path: str, name: str) -> Callable[[Any], Any]:
    spec = importlib.util.spec_from_file_location(f"vigil_upstream_{hashlib.sha1(path.encode()).hexdigest()[:10]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@dataclass(frozen=True)
class UpstreamTransform:
    """Picklable: ``then`` (a perturbation, if any) first, then each module's function in order."""

    stages: tuple[tuple[str, str], ...]
    then: Transform | None = None

    def __call__(self, features: Any, sample_ids: Any) -> Any:
        """Transform one shard on a worker; rows keep their order."""
        if self.then is not None:
            features = self.then(features, sample_ids)
        for path, name in self.stages:
            features = _load(path, name)(features)
        return features


def with_upstream(suite: SuiteSpec, variant: str, perturbation: Transform | None) -> Transform | None:
    """The worker transform of ``variant``: the upstream modules (one rolled back for an ablation)."""
    if not suite.upstream:
        return perturbation
    rolled_back = ablated_module(variant)
    stages = []
    for i, module in enumerate(suite.upstream):
        version = module.previous if module.name == rolled_back and module.previous else module
        stages.append((str(_file(suite, version, f"upstream[{i}]")), version.module.split(":")[1]))
    return UpstreamTransform(tuple(stages), perturbation)


def attribution(plan: RunPlan, suite: SuiteSpec, settings: Settings, metric: str | None = None) -> pd.DataFrame:
    """Per model × dataset × module: ``metric(current) − metric(module rolled back)``, paired bootstrap CI."""
    name = metric or suite.primary()
    fn = METRICS.get(name)
    cache = PredictionCache(settings.cache_dir)
    rows = []
    for module in (m for m in suite.upstream if m.previous is not None):
        for model in plan.models:
            for dataset in plan.datasets:
                current = cache.get(plan.cache_key(model.name, dataset.name, "clean")).sort_values(SAMPLE_ID)
                ablated = cache.get(plan.cache_key(model.name, dataset.name, ablation_variant(module.name))).sort_values(SAMPLE_ID)
                y, s_cur = prediction_arrays(current, suite.task)
                _, s_abl = prediction_arrays(ablated, suite.task)
                diff = paired_bootstrap_diff(fn, y, s_cur, s_abl, resamples=suite.bootstrap.resamples, confidence=suite.bootstrap.confidence, seed=plan.seed)
                rows.append({"module": module.name, "model": model.name, "dataset": dataset.name, "metric": name,
                             "delta": diff.diff, "ci_low": diff.ci_low, "ci_high": diff.ci_high, "p_value": diff.p_value, "n": len(y)})
    return pd.DataFrame(rows, columns=["module", "model", "dataset", "metric", "delta", "ci_low", "ci_high", "p_value", "n"])
