"""A plain Python function named by ``spec.module``, taking a batch and returning outputs.

With ``output: auto`` its return value is taken as probabilities
(classification) or values (regression).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from suite.errors import VigilError
from suite.spec import ModelSpec
from workers.formats.base import LoadedModel, ModelFormat
from workers.formats.imports import import_object


def load(spec: ModelSpec, checkpoint: Path | None, base_dir: Path, task: str) -> LoadedModel:
    """Import the function; ``spec.path``, when given, was already verified like any checkpoint."""
    if not spec.module:
        raise VigilError(f"model {spec.name}: module: expected 'file.py:function' for format callable, got nothing")
    fn = import_object(spec.module, base_dir, model=spec.name)
    if not callable(fn):
        raise VigilError(f"model {spec.name}: module: expected a function, got {type(fn).__name__}")
    auto = "probabilities" if task == "classification" else "values"
    return LoadedModel(lambda batch: np.asarray(fn(batch)), auto_output=auto)


FORMAT = ModelFormat("callable", load)
