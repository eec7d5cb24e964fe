"""Upstream changes as data: model updates, checkpoint scans, dedupe keys, derived suites.

A model update names a model of a suite and the new checkpoint (version, path,
sha256). The same update always maps to the same run id, so a duplicate event
finds the run already recorded and is not evaluated twice. A triggered run
evaluates a *derived* suite: the original with that model's checkpoint swapped,
and every relative path made absolute so the derived file can live anywhere.

Example:
    >>> update = ModelUpdate(model="cnn", version="v2", path="/m/cnn.pt", sha256="ab" * 32)
    >>> triggered_run_id("digits", update)
    'digits-cnn-abababababab'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from storage.checksums import sha256_file as file_sha256
from suite.errors import VigilError
from suite.load import read_suite_yaml

MODEL_UPDATED = "vigil.model.updated"
"""The Prefect event a new or changed checkpoint emits."""

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ts", ".onnx", ".skops", ".pkl", ".joblib", ".safetensors", ".bin", ".ckpt")


class ModelUpdate(BaseModel):
    """A new version of one model: what the ``vigil.model.updated`` event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str
    path: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    def event(self) -> dict[str, Any]:
        """Keyword arguments for Prefect's ``emit_event``: resource id = model name."""
        return {
            "event": MODEL_UPDATED,
            "resource": {"prefect.resource.id": f"vigil.model.{self.model}", "prefect.resource.name": self.model},
            "payload": {"model": self.model, "version": self.version, "path": self.path, "sha256": self.sha256},
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def triggered_run_id(suite_name: str, update: ModelUpdate) -> str:
    """The run id of evaluating ``update``: the same change gives the same id (dedupe key)."""
    key = update.sha256[:12] if update.sha256 else _slug(update.version)
    return f"{suite_name}-{update.model}-{key}"[:120]


def scan_checkpoints(directory: Path) -> dict[str, str]:
    """sha256 of each checkpoint file under ``directory``, keyed by its path relative to it."""
    if not directory.is_dir():
        raise VigilError(f"watch {directory}: expected a directory (or a registry manifest file), got {'a file' if directory.exists() else 'nothing'}")
    return {
        str(p.relative_to(directory)): file_sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES
    }


def changed_checkpoints(directory: Path, before: dict[str, str], after: dict[str, str]) -> list[ModelUpdate]:
    """Updates for checkpoints added or changed between two scans.

    The model name is the file's stem (``cnn.pt`` → ``cnn``) or, for a file in a
    sub-folder, the folder (``cnn/v3.pt`` → ``cnn``, version ``v3``).
    """
    updates = []
    for rel, sha in after.items():
        if before.get(rel) == sha:
            continue
        parts = Path(rel).parts
        model = parts[0] if len(parts) > 1 else Path(rel).stem
        version = Path(rel).stem if len(parts) > 1 else sha[:12]
        updates.append(ModelUpdate(model=_slug(model), version=version, path=str(directory / rel), sha256=sha))
    return updates


def _absolute(value: str, base: Path) -> str:
    """A path (or ``file.py:Name`` reference) written relative to the suite, made absolute."""
    target, sep, name = value.partition(":")
    if sep and not target.endswith(".py"):
        return value  # package.module:Name
    p = Path(target).expanduser()
    return (str(p if p.is_absolute() else (base / p).resolve())) + (sep + name if sep else "")


def _absolutise(node: Any, base: Path) -> Any:
    if isinstance(node, dict):
        return {k: (_absolute(v, base) if k in ("path", "module", "data") and isinstance(v, str) else _absolutise(v, base)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolutise(v, base) for v in node]
    return node


def derive_suite(suite_path: str | Path, target: Path, *, models: dict[str, dict[str, Any]] | None = None,
                 datasets: dict[str, dict[str, Any]] | None = None, upstream: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write a copy of a suite to ``target`` with some models' or datasets' fields replaced.

    Args:
        suite_path: The original suite file.
        target: Where to write the derived suite (any folder: paths are made absolute).
        models: ``{model name: {field: value}}``, e.g. a new ``path``/``sha256``/``version``.
        datasets: ``{dataset name: {field: value}}``, e.g. a window's ``path``; a None value removes the field.
        upstream: ``{module name: {field: value}}``, e.g. a new ``data`` file and its ``previous``.

    Raises:
        VigilError: A named model or dataset is not in the suite.
    """
    source = Path(suite_path)
    raw = read_suite_yaml(source)
    doc = _absolutise(raw, source.parent.resolve())
    for section, changes in (("models", models or {}), ("datasets", datasets or {}), ("upstream", upstream or {})):
        names = [item.get("name") for item in doc.get(section, [])]
        for name, fields in changes.items():
            if name not in names:
                raise VigilError(f"suite {source}: {section}: expected one of {names}, got {name!r}")
            entry = doc[section][names.index(name)]
            entry.update(fields)
            for key in [k for k, v in entry.items() if v is None]:
                del entry[key]  # None removes a field (e.g. a loader replaced by a path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target
