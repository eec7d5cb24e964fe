"""Resolve ``path/to/file.py:Name`` or ``package.module:Name`` to a Python object.

Importing runs the module's code with the worker's privileges: a suite is code
(see docs/reliability.md, "What a suite may execute"). A file module is
imported under a name made from its path and its bytes, so an edited file is
imported afresh in a long-lived process; while it executes, its own folder is
first on ``sys.path`` so it can import the helper files beside it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from suite.errors import VigilError
from workers.formats.sources import module_file


@contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)


def import_object(reference: str, base_dir: Path, *, model: str) -> Any:
    """The object a ``spec.module`` string names.

    Args:
        reference: ``file.py:Name`` (relative to ``base_dir`` unless absolute) or ``pkg.mod:Name``
            (a package in ``base_dir`` first, else an installed one).
        base_dir: the suite's folder.
        model: the model's name, for error messages.

    Raises:
        VigilError: the reference is malformed, the file or module is missing, or lacks the name.
    """
    where, sep, name = reference.rpartition(":")
    if not sep or not where or not name:
        raise VigilError(f"model {model}: module: expected 'file.py:Name' or 'package.module:Name', got {reference!r}")
    if where.endswith(".py"):
        path = module_file(reference, base_dir)
        if path is None or not path.is_file():
            raise VigilError(f"model {model}: module: file {path} not found")
        # A name unique to the file and its content, so two suites' model.py files never shadow each other
        # and an edited file is not served from sys.modules.
        mod_name = "vigil_user_" + hashlib.sha1(str(path).encode() + path.read_bytes()).hexdigest()[:12]
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise VigilError(f"model {model}: module: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                with _first_on_path(path.parent):
                    spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(mod_name, None)
                raise
    else:
        local = module_file(reference, base_dir)
        try:
            if local is not None:
                with _first_on_path(Path(base_dir).resolve()):
                    module = importlib.import_module(where)
            else:
                module = importlib.import_module(where)
        except ImportError as exc:
            raise VigilError(f"model {model}: module: cannot import {where!r}: {exc}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise VigilError(f"model {model}: module: {where} has no {name!r}") from None
