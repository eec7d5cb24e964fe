"""The rooms and what each may import (docs/architecture.md, "The rooms"), checked from the source.

A package may import only the packages listed for it, and each engine is
imported only by its owner: a new import across a wall fails here with the file
and the line, before it becomes a circle or a second place that talks to Prefect,
Ray, Evidently, SQL or Plotly.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAY_IMPORT: dict[str, set[str]] = {
    "suite": set(),
    "evaluators": {"suite"},
    "drift": {"suite", "evaluators"},
    "storage": {"suite"},
    "reports": {"suite"},
    "workers": {"suite", "storage", "drift"},
    "pipeline": {"suite", "evaluators", "drift", "storage", "workers", "reports"},
    "mirror": {"suite", "evaluators", "storage"},
    "flows": {"suite", "pipeline", "reports", "storage"},
    "cli": {"suite", "evaluators", "pipeline", "reports", "storage", "flows", "mirror"},
}
"""Package → the Vigil packages it may import (lower rooms only: no circles)."""

ENGINE_OWNERS: dict[str, tuple[str, ...]] = {
    "prefect": ("flows/",),
    "ray": ("workers/",),
    "evidently": ("drift/evidently_adapter.py",),
    "sqlalchemy": ("storage/",),
    "sqlmodel": ("storage/",),
    "alembic": ("storage/",),
    "plotly": ("reports/",),
}
"""Engine → the only files (or folders) that may import it."""


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import in ``path``, at any depth (lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def product_files() -> list[tuple[str, Path]]:
    return [(package, path) for package in MAY_IMPORT for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.parts]


def test_each_room_imports_only_the_rooms_below_it() -> None:
    crossings = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                 for package, path in product_files() for line, module in imports_of(path)
                 if module in MAY_IMPORT and module != package and module not in MAY_IMPORT[package]]
    assert crossings == []


def test_each_engine_is_imported_only_by_its_owner() -> None:
    strays = []
    for _, path in product_files():
        relative = path.relative_to(ROOT).as_posix()
        strays += [f"{relative}:{line} imports {module} (owner: {', '.join(ENGINE_OWNERS[module])})"
                   for line, module in imports_of(path)
                   if module in ENGINE_OWNERS and not relative.startswith(ENGINE_OWNERS[module])]
    assert strays == []


def test_the_allowed_graph_has_no_circle() -> None:
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in MAY_IMPORT[start])

    assert [p for p in MAY_IMPORT if reaches(p, p)] == []
