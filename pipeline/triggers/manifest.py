"""A model registry manifest as a source of model updates.

A manifest is a YAML or JSON file a registry or training pipeline rewrites when it
promotes a version::

    models:
      - {name: cnn, version: "2026-04-02", path: checkpoints/cnn-0402.pt, sha256: <optional>}
      - {name: ranker, version: v7, path: s3-mirror/ranker/v7.onnx}

Relative paths resolve against the manifest's folder; a missing ``sha256`` is
computed from the file. An entry whose version or sha256 differs from the last
poll is an update.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cnn.pt").write_bytes(b"weights")
    >>> _ = (folder / "registry.yaml").write_text("models: [{name: cnn, version: v1, path: cnn.pt}]")
    >>> [(u.model, u.version) for u in changed_entries({}, read_manifest(folder / "registry.yaml"))]
    [('cnn', 'v1')]
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from pipeline.triggers.derive import ModelUpdate
from storage.checksums import sha256_file
from suite.errors import VigilError


def read_manifest(path: Path) -> dict[str, ModelUpdate]:
    """The manifest's entries by model name, each with its path made absolute and its sha256 known.

    Raises:
        VigilError: The file is unreadable or an entry is malformed (one line naming the file and entry).
    """
    try:
        text = path.read_text()
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise VigilError(f"manifest {path}: cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise VigilError(f"manifest {path}: models: expected a list of {{name, version, path, sha256}}, got {type(entries).__name__}")
    found: dict[str, ModelUpdate] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise VigilError(f"manifest {path}: models[{i}]: expected a mapping, got {entry!r}")
        fields = {("model" if k == "name" else k): (str(v) if k == "version" else v) for k, v in entry.items()}
        file = Path(str(fields["path"])) if fields.get("path") else None
        if file is not None and not file.is_absolute():
            file = (path.parent / file).resolve()
        if file is not None:
            fields["path"] = str(file)
            if not fields.get("sha256"):
                if not file.is_file():
                    raise VigilError(f"manifest {path}: models[{i}].path: file {file} not found")
                fields["sha256"] = sha256_file(file)
        try:
            update = ModelUpdate(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise VigilError(f"manifest {path}: models[{i}].{first['loc'][0] if first['loc'] else ''}: {first['msg']}") from None
        found[update.model] = update
    return found


def changed_entries(before: dict[str, ModelUpdate], after: dict[str, ModelUpdate]) -> list[ModelUpdate]:
    """Entries that are new or whose version or sha256 changed."""
    return [u for name, u in after.items() if name not in before or (before[name].version, before[name].sha256) != (u.version, u.sha256)]
