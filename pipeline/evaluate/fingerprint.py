"""A model's prediction fingerprint: everything that can change its predictions, hashed.

The prediction cache (and Prefect's cache of inference tasks) keys on
:func:`model_fingerprint` with the data's :func:`data_fingerprint`, the
variant with its perturbation version and parameters, and the seed of a
perturbed variant (:meth:`pipeline.evaluate.plan.RunPlan.cache_key`). The fingerprint
covers:

* the checkpoint's sha256 (``sha256``), the ``format``, ``init_args``, ``output`` and ``input``;
* the model's code: the ``module:`` file's bytes and those of every local ``.py``
  file it imports, transitively (:func:`workers.formats.sources.local_sources`),
  and the name of the object it takes from the module;
* for an installed ``package.module:Name``, that package's version;
* the upstream modules' files (:func:`pipeline.evaluate.upstream.upstream_digest`);
* Vigil's :data:`~workers.predictor.PREDICTOR_VERSION` and the versions of the
  libraries the format predicts with (numpy always; torch; scikit-learn and skops);
* the requested ``device`` for torch formats only: CUDA kernels round differently
  from the CPU's, so cpu and cuda predictions are cached apart. ``auto`` is keyed
  as written. The ``precision`` too (torch formats): bf16/fp16/TF32 round differently.
  ``batch_size`` is left out: a row's prediction does not depend on its
  batch in eval mode (rounding aside), and shards already mix rows across batches.

Nothing is imported to compute it: local imports are read with :mod:`ast`.

Example:
    >>> fp = model_fingerprint(suite.models[0], suite)  # doctest: +SKIP
    >>> fp.sha256[:12], sorted(fp.inputs)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from storage.checksums import sha256_file
from suite.errors import SpecError
from suite.spec import DatasetSpec, ModelSpec, SuiteSpec
from workers.formats.sources import local_sources, module_file, split_reference
from workers.predictor import PREDICTOR_VERSION

_LIBRARIES = {
    "torch_state_dict": ("numpy", "torch"),
    "torchscript": ("numpy", "torch"),
    "skops": ("numpy", "scikit-learn", "skops"),
}
_TORCH_FORMATS = ("torch_state_dict", "torchscript")


@dataclass(frozen=True)
class Fingerprint:
    """A prediction fingerprint and the inputs it hashes (stored in the run's provenance)."""

    sha256: str
    inputs: dict[str, Any]


def canonical_sha256(document: Any) -> str:
    """sha256 of ``document`` as canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def model_code(spec: ModelSpec, base_dir: Path) -> dict[str, Any]:
    """The model's code as hashed: ``{"object": ..., "files": {path: sha256}, "package": version}``.

    File paths are relative to the module file's folder, so a copied suite keys the same.
    """
    if spec.module is None:
        return {}
    where, name = split_reference(spec.module)
    path = module_file(spec.module, base_dir)
    if path is None or not path.is_file():  # an installed package: its version stands for its code
        top = where.split(".")[0]
        dists = metadata.packages_distributions().get(top, [])
        return {"object": spec.module, "package": {d: _version(d) for d in dists} or None}
    root = path.parent
    files = {os.path.relpath(p, root): sha256_file(p) for p in local_sources(path, base_dir)}
    return {"object": name if where.endswith(".py") else spec.module, "files": files}


def model_fingerprint(spec: ModelSpec, suite: SuiteSpec, upstream: str | None = None) -> Fingerprint:
    """The prediction fingerprint of ``spec`` in ``suite``; ``upstream`` is the suite's upstream digest.

    Pins are not checked here (see :func:`workers.checksum.verify_model`): the
    fingerprint hashes the files as they are.
    """
    inputs = {
        "predictor_version": PREDICTOR_VERSION,
        "format": spec.format,
        "checkpoint_sha256": spec.sha256,
        "code": model_code(spec, suite.base_dir),
        "init_args": spec.init_args,
        "output": spec.output,
        "input": spec.input,
        "device": spec.device if spec.format in _TORCH_FORMATS else None,
        "precision": spec.precision if spec.format in _TORCH_FORMATS else None,
        "upstream": upstream,
        "libraries": {lib: _version(lib) for lib in _LIBRARIES.get(spec.format, ("numpy",))},
    }
    return Fingerprint(canonical_sha256(inputs), inputs)


def data_fingerprint(data_sha256: str, spec: DatasetSpec, task: str, classes: list[int | str] | None) -> str:
    """The data side of a cache key: the data's sha256, the columns read from it and how labels encode."""
    return canonical_sha256({
        "sha256": data_sha256, "features": spec.features, "label": spec.label, "id_column": spec.id_column,
        "image_shape": spec.image_shape, "task": task, "classes": classes,
    })


def perturbation_params(suite: SuiteSpec) -> dict[str, str]:
    """Perturbation kind → a short hash of its parameters beyond kind and severity (only those that set ``columns``)."""
    return {p.kind: canonical_sha256(p.columns)[:12] for p in suite.perturbations if p.columns is not None}


def unpinned_code(suite: SuiteSpec) -> list[str]:
    """The suite's code files that run on the workers without a sha256 pin, as ``field (file)``.

    Model modules of installed packages are not listed: their versions are recorded instead.
    """
    missing = [
        f"models[{i}].module_sha256 ({m.module.rpartition(':')[0]})"
        for i, m in enumerate(suite.models)
        if m.module is not None and m.module_sha256 is None and module_file(m.module, suite.base_dir) is not None
    ]
    for i, module in enumerate(suite.upstream):
        for version, where in ((module, f"upstream[{i}]"), (module.previous, f"upstream[{i}].previous")):
            if version is not None and version.module is not None and version.sha256 is None:
                missing.append(f"{where}.sha256 ({version.module.rpartition(':')[0]})")
    return missing


def check_code_pins(suite: SuiteSpec) -> list[str]:
    """The unpinned code files; with ``require_code_pins: true``, the first one is an error.

    Raises:
        SpecError: the suite requires code pins and a file has none.
    """
    missing = unpinned_code(suite)
    if missing and suite.require_code_pins:
        field, _, file = missing[0].partition(" ")
        raise SpecError(suite.source, field, f"expected a sha256 pin of {file.strip('()')} (require_code_pins: true), got none")
    return missing


def unpinned_warning(suite: SuiteSpec, missing: list[str]) -> str | None:
    """The one-line warning for unpinned code, or None when everything is pinned."""
    if not missing:
        return None
    return (f"suite {suite.source}: code runs unpinned: {', '.join(missing)}; a swapped file would run unchecked "
            "(pin it, or set require_code_pins: true to refuse)")
