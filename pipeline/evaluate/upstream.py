"""Upstream modules of a suite (transforms, retrievers, data snapshots) and their ablations.

Each module turns a batch of features into the batch the models see. It runs on
the workers (after any perturbation), so the driver ships only file paths (see
:mod:`pipeline.evaluate.upstream_stages`). A module with a ``previous`` version adds the
variant ``ablation@<name>``: clean data through the pipeline with only that
module rolled back; :mod:`pipeline.evaluate.attribution` turns the pair into a delta.

Example:
    >>> ablation_variant("scaler"), ablated_module("ablation@scaler"), ablated_module("clean")
    ('ablation@scaler', 'scaler', None)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.evaluate.upstream_stages import CodeStage, SnapshotStage, check_snapshot, load_snapshot
from storage.checksums import sha256_file, verify_pin
from storage.datasets import SAMPLE_ID, LoadedDataset
from suite.errors import DataError, SpecError
from suite.spec import SuiteSpec, UpstreamSpec, UpstreamVersion

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


@dataclass(frozen=True)
class VersionFiles:
    """The files of one version of a module, checked against its pins."""

    module: Path | None
    function: str | None
    data: Path | None


def version_files(suite: SuiteSpec, version: UpstreamVersion, where: str) -> VersionFiles:
    """Resolve ``version``'s code and data files and check their sha256 pins.

    Raises:
        SpecError: A file named by the suite does not exist.
        ChecksumError: A file's sha256 is not the one the suite pins.
    """
    module = function = data = None
    if version.module is not None:
        name, function = version.module.split(":")
        module = _checked(suite, name, version.sha256, f"{where}.module", "sha256")
    if version.data is not None:
        data = _checked(suite, version.data, version.data_sha256, f"{where}.data", "data_sha256")
    return VersionFiles(module, function, data)


def _checked(suite: SuiteSpec, written: str, pin: str | None, field: str, pin_field: str) -> Path:
    path = suite.resolve(written)
    if not path.is_file():
        raise SpecError(suite.source, field, f"expected a file, got {path} (not found)")
    verify_pin(path, pin, f"suite {suite.source}: {field.rsplit('.', 1)[0]}.{pin_field}")
    return path


def upstream_digest(suite: SuiteSpec) -> str | None:
    """sha256 over every upstream module's current and previous files (None when there are none).

    Folded into each model's sha in the plan, so a changed module misses the prediction cache.
    """
    if not suite.upstream:
        return None
    digest = hashlib.sha256()
    for i, module in enumerate(suite.upstream):
        for version, where in ((module, f"upstream[{i}]"), (module.previous, f"upstream[{i}].previous")):
            if version is None:
                continue
            files = version_files(suite, version, where)
            for label, path in (("module", files.module), ("data", files.data)):
                if path is not None:
                    digest.update(f"{module.name}:{module.kind}:{label}:{files.function}:{sha256_file(path)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class UpstreamTransform:
    """Picklable: ``then`` (a perturbation, if any) first, then each module's stage in order."""

    stages: tuple[CodeStage | SnapshotStage, ...]
    then: Transform | None = None

    def __call__(self, features: Any, sample_ids: Any) -> Any:
        """Transform one shard on a worker; rows keep their order."""
        if self.then is not None:
            features = self.then(features, sample_ids)
        for stage in self.stages:
            features = stage(features, sample_ids)
        return features


def _stage(suite: SuiteSpec, module: UpstreamSpec, version: UpstreamVersion, where: str, data: LoadedDataset) -> CodeStage | SnapshotStage:
    files = version_files(suite, version, where)
    if module.kind != "data_snapshot":
        assert files.module is not None and files.function is not None
        return CodeStage(str(files.module), files.function, None if files.data is None else str(files.data))
    assert files.data is not None
    dataset = next(d for d in suite.datasets if d.name == data.name)
    key = dataset.id_column or SAMPLE_ID
    columns = load_snapshot_columns(files.data, key, where)
    shared = tuple((name, data.features.index(name)) for name in data.features if name in columns)
    if not shared:
        raise SpecError(suite.source, f"{where}.data", f"expected columns of dataset {data.name!r}'s features, got {sorted(columns)[:8]}")
    stage = SnapshotStage(str(files.data), key, shared)
    check_snapshot(stage, data.sample_ids, f"suite {suite.source}: {where}.data")
    return stage


def load_snapshot_columns(path: Path, key: str, where: str) -> set[str]:
    """The value columns of a snapshot file (its key column excluded)."""
    try:
        return set(load_snapshot(str(path), key).columns)
    except DataError as exc:
        raise DataError(f"{where}.data: {exc}") from None


def with_upstream(suite: SuiteSpec, variant: str, perturbation: Transform | None, data: LoadedDataset) -> Transform | None:
    """The worker transform of ``variant`` on ``data``: the upstream modules (one rolled back for an ablation)."""
    if not suite.upstream:
        return perturbation
    rolled_back = ablated_module(variant)
    stages = []
    for i, module in enumerate(suite.upstream):
        if not module.applies_to(data.name):
            continue
        use_previous = module.name == rolled_back and module.previous is not None
        version = module.previous if use_previous and module.previous is not None else module
        stages.append(_stage(suite, module, version, f"upstream[{i}]" + (".previous" if use_previous else ""), data))
    return UpstreamTransform(tuple(stages), perturbation) if stages else perturbation


def check_upstream(suite: SuiteSpec, data: dict[str, LoadedDataset]) -> None:
    """Build every variant's upstream stages once at plan time, so a snapshot missing an id fails before any inference."""
    for name, loaded in data.items():
        if any(d.name == name for d in suite.evaluation_datasets):
            for variant in ("clean", *ablation_variants(suite)):
                with_upstream(suite, variant, None, loaded)
