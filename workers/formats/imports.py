"""Resolve ``path/to/file.py:Name`` or ``package.module:Name`` to a Python object."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from suite.errors import VigilError


def import_object(reference: str, base_dir: Path, *, model: str) -> Any:
    """The object a ``spec.module`` string names.

    Args:
        reference: ``file.py:Name`` (relative to ``base_dir`` unless absolute) or ``pkg.mod:Name``.
        base_dir: the suite's folder.
        model: the model's name, for error messages.

    Raises:
        VigilError: the reference is malformed, the file or module is missing, or lacks the name.
    """
    where, sep, name = reference.rpartition(":")
    if not sep or not where or not name:
        raise VigilError(f"model {model}: module: expected 'file.py:Name' or 'package.module:Name', got {reference!r}")
    if where.endswith(".py"):
        path = Path(where).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.is_file():
            raise VigilError(f"model {model}: module: file {path} not found")
        # A name unique to the file, so two suites' model.py files never shadow each other.
        mod_name = "vigil_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise VigilError(f"model {model}: module: cannot import {where!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise VigilError(f"model {model}: module: {where} has no {name!r}") from None
