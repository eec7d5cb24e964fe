"""Edit a copied suite (see the ``digits_suite`` fixture) and keep its pins true; ``slim_suite`` makes one quick to run."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml


def edit_suite(suite: Path, **changes: Any) -> dict[str, Any]:
    """Apply top-level ``changes`` to a suite file; returns the new document."""
    doc = yaml.safe_load(suite.read_text())
    doc.update(changes)
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))
    return doc


SLIM: dict[str, Any] = {"bootstrap": {"resamples": 100}, "perturbations": [], "robustness_gates": [], "drift": None}
"""What ``slim_suite`` sets: fewer resamples, no perturbed variants, no robustness gates, no drift section."""


def slim_suite(suite: Path, **changes: Any) -> dict[str, Any]:
    r"""Make a copied suite quick to run (:data:`SLIM`), then apply top-level ``changes``, which win; returns the new document.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "suite.yaml"
        >>> _ = path.write_text("name: s\nperturbations: [{kind: occlusion}]\nbootstrap: {resamples: 1000}\n")
        >>> slim_suite(path, bootstrap={"resamples": 50})
        {'name': 's', 'perturbations': [], 'bootstrap': {'resamples': 50}, 'robustness_gates': [], 'drift': None}
    """
    return edit_suite(suite, **{**SLIM, **changes})


def edit_model(suite: Path, name: str, **fields: Any) -> None:
    """Set (or, with None, remove) fields of model ``name``."""
    doc = yaml.safe_load(suite.read_text())
    entry = next(m for m in doc["models"] if m["name"] == name)
    entry.update(fields)
    for key in [k for k, v in entry.items() if v is None]:
        del entry[key]
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))


def edit_dataset(suite: Path, name: str, **fields: Any) -> None:
    """Set fields of dataset ``name``."""
    doc = yaml.safe_load(suite.read_text())
    next(d for d in doc["datasets"] if d["name"] == name).update(fields)
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))


def repin(suite: Path) -> None:
    """Re-pin every model's checkpoint and module file to the files' current bytes (as a user re-pins)."""
    doc = yaml.safe_load(suite.read_text())
    for model in doc["models"]:
        if model.get("path"):
            model["sha256"] = hashlib.sha256((suite.parent / model["path"]).read_bytes()).hexdigest()
        if model.get("module_sha256"):
            file = model["module"].rpartition(":")[0]
            model["module_sha256"] = hashlib.sha256((suite.parent / file).read_bytes()).hexdigest()
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))


NEGATE = ("        return self.head(self.features(images).flatten(1))\n", "        return -self.head(self.features(images).flatten(1))\n")


def negate_cnn(suite: Path) -> None:
    """Negate the digits CNN's logits in the suite's model.py (its argmax becomes the least likely class) and re-pin."""
    model = suite.parent / "model.py"
    text = model.read_text()
    assert NEGATE[0] in text, "the digits example's DigitsCNN.forward changed; update NEGATE"
    model.write_text(text.replace(*NEGATE))
    repin(suite)


def write_helper_model(suite: Path, scale: str) -> None:
    """The CNN's module imports a helper file beside it (``helpers/scaling.py`` through a package)."""
    folder = suite.parent
    (folder / "helpers").mkdir(exist_ok=True)
    (folder / "helpers" / "__init__.py").write_text("")
    (folder / "helpers" / "scaling.py").write_text(f"SCALE = {scale}\n")
    text = (folder / "model.py").read_text()
    if "from helpers.scaling import SCALE" not in text:
        text = text.replace("from torch import nn\n", "from torch import nn\n\nfrom helpers.scaling import SCALE\n")
        text = text.replace("images = (x / 16.0)", "images = (x / SCALE)")
        (folder / "model.py").write_text(text)
    repin(suite)
