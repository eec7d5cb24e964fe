"""Checkpoint integrity: the sha256 a suite pins is checked before any model is loaded."""

from __future__ import annotations

from pathlib import Path

from storage.checksums import sha256_file
from suite.errors import ChecksumError
from suite.spec import ModelSpec

__all__ = ["checkpoint_path", "sha256_file", "verify_model"]


def checkpoint_path(spec: ModelSpec, base_dir: Path) -> Path | None:
    """The absolute checkpoint path (relative paths resolve against the suite folder)."""
    if spec.path is None:
        return None
    path = Path(spec.path).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def verify_model(spec: ModelSpec, base_dir: Path) -> Path | None:
    """Check a model's checkpoint against its pinned sha256 and return its path.

    Returns ``None`` for a model without a file (a ``callable`` given only by ``module``).

    Raises:
        ChecksumError: the file is missing or its sha256 differs from the pin.
    """
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
