"""Checkpoint and code integrity: the sha256s a suite pins are checked before any model is loaded."""

from __future__ import annotations

from pathlib import Path

from storage.checksums import sha256_file, verify_pin
from suite.errors import ChecksumError, VigilError
from suite.spec import ModelSpec
from workers.formats.sources import module_file

__all__ = ["checkpoint_path", "sha256_file", "verify_code", "verify_model"]


def checkpoint_path(spec: ModelSpec, base_dir: Path) -> Path | None:
    """The absolute checkpoint path (relative paths resolve against the suite folder)."""
    if spec.path is None:
        return None
    path = Path(spec.path).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def verify_code(spec: ModelSpec, base_dir: Path, where: str | None = None) -> Path | None:
    """Check the model's ``module:`` file against ``module_sha256`` (when pinned) without importing it.

    Returns the module file, or ``None`` when the model has no module or it names an
    installed package. A pin on an installed package's module is checked against
    the file Python would import (its parent package is imported to find it).

    Raises:
        VigilError: the pinned module file does not exist.
        ChecksumError: the module file's sha256 differs from ``module_sha256``.
    """
    if spec.module is None:
        return None
    field = f"{where}.module_sha256" if where else f"model {spec.name}: module_sha256"
    path = module_file(spec.module, base_dir)
    if path is None and spec.module_sha256 is not None:
        path = _installed_file(spec.module.rpartition(":")[0])
        if path is None:
            raise VigilError(f"{field}: expected a module file to check, got none for {spec.module!r}")
    if path is None:
        return None
    if not path.is_file():
        if spec.module_sha256 is None:
            return None  # the import reports the missing file
        raise ChecksumError(f"{field}: expected the module file {path}, got none (not found)")
    verify_pin(path, spec.module_sha256, field)
    return path


def _installed_file(dotted: str) -> Path | None:
    import importlib.util

    try:
        found = importlib.util.find_spec(dotted)
    except (ImportError, ValueError):
        return None
    return Path(found.origin) if found is not None and found.origin and found.origin.endswith(".py") else None


def verify_model(spec: ModelSpec, base_dir: Path, where: str | None = None) -> Path | None:
    """Check a model's checkpoint and module file against their pins and return the checkpoint's path.

    Returns ``None`` for a model without a file (a ``callable`` given only by ``module``).

    Args:
        spec: the model's spec.
        base_dir: the suite's folder.
        where: how errors name the model's entry, e.g. ``suite s.yaml: models[0]`` (default ``model <name>``).

    Raises:
        ChecksumError: the checkpoint is missing or its sha256 differs from the pin, or the
            module file differs from ``module_sha256``.
    """
    verify_code(spec, base_dir, where)
    path = checkpoint_path(spec, base_dir)
    if path is None:
        return None
    if not path.is_file():
        raise ChecksumError(f"model {spec.name}: checkpoint {path} not found")
    actual = sha256_file(path)
    if actual != spec.sha256:
        pinned = (spec.sha256 or "nothing")[:12]
        raise ChecksumError(
            f"model {spec.name}: checkpoint {path}: sha256 mismatch (suite pins {pinned}…, file has {actual[:12]}…)"
        )
    return path
