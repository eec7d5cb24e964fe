"""The source files a model's code is made of: its ``module:`` file and the local files it imports.

A ``module:`` reference is ``path/to/file.py:Name`` or ``package.module:Name``.
:func:`module_file` finds the file it names without importing anything;
:func:`local_sources` follows its ``import`` statements (read with :mod:`ast`,
never executed) to every ``.py`` file they resolve to in the module's own
folder or the suite's folder, transitively. Installed packages are not
followed: their versions stand for them (see :mod:`pipeline.evaluate.fingerprint`).

Example:
    >>> from pathlib import Path
    >>> module_file("model.py:Net", Path("/suite"))
    PosixPath('/suite/model.py')
"""

from __future__ import annotations

import ast
from pathlib import Path


def split_reference(reference: str) -> tuple[str, str]:
    """``(where, name)`` of a ``module:`` reference; ``where`` is a file path or a dotted module path."""
    where, _, name = reference.rpartition(":")
    return where, name


def module_file(reference: str, base_dir: Path) -> Path | None:
    """The file a ``module:`` reference names, when it is a file or resolves to one under ``base_dir``.

    Returns ``None`` for a module of an installed package (or one that does not exist).
    """
    where, _ = split_reference(reference)
    if not where:
        return None
    if where.endswith(".py"):
        path = Path(where).expanduser()
        return path if path.is_absolute() else (base_dir / path).resolve()
    return _dotted_file(where, [base_dir])


def _dotted_file(dotted: str, roots: list[Path]) -> Path | None:
    parts = dotted.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate.resolve()
    return None


def _imported_names(path: Path) -> list[tuple[str, int]]:
    """``(dotted name, level)`` of every module an import statement in ``path`` may load."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError:
        return []
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names.append((base, node.level))
            # ``from pkg import mod`` may name a submodule as well as an attribute
            names += [(f"{base}.{alias.name}" if base else alias.name, node.level) for alias in node.names if alias.name != "*"]
    return names


def _packages_of(path: Path, stop: Path) -> list[Path]:
    """The ``__init__.py`` files of the packages above ``path``, up to ``stop``."""
    inits = []
    folder = path.parent
    while folder != stop and stop in folder.parents and (folder / "__init__.py").is_file():
        inits.append(folder / "__init__.py")
        folder = folder.parent
    return inits


def local_sources(path: Path, base_dir: Path) -> list[Path]:
    """``path`` and every local ``.py`` file it imports, transitively, sorted.

    An import is local when it resolves to a file in the importing file's folder or
    in ``base_dir`` (the suite's folder); relative imports resolve from the
    importing file's folder. Imports of installed packages are left out.
    """
    base_dir = base_dir.resolve()
    seen: set[Path] = set()
    todo = [path.resolve()]
    while todo:
        current = todo.pop()
        if current in seen or not current.is_file():
            continue
        seen.add(current)
        todo += _packages_of(current, base_dir)
        for name, level in _imported_names(current):
            if level:
                root = current.parent
                for _ in range(level - 1):
                    root = root.parent
                found = _dotted_file(name, [root]) if name else None
            else:
                found = _dotted_file(name, [current.parent, base_dir])
                # ``import pkg.mod`` loads pkg/__init__.py too
                parts = name.split(".")
                todo += [p for i in range(1, len(parts)) if (p := _dotted_file(".".join(parts[:i]), [current.parent, base_dir]))]
            if found is not None:
                todo.append(found)
    return sorted(seen)
