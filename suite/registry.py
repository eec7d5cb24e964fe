"""One generic registry for metrics, perturbations, drift checks, model formats and backends.

Example:
    >>> shapes: Registry[int] = Registry("shape", int)
    >>> _ = shapes.register("square", 4)
    >>> shapes.get("square")
    4
    >>> shapes.get("sqare")
    Traceback (most recent call last):
    ...
    suite.errors.VigilError: unknown shape 'sqare'; did you mean 'square'? Available: square
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from suite.errors import VigilError

T = TypeVar("T")


class Registry(Generic[T]):
    """A typed name → object map that refuses duplicates and suggests near names."""

    def __init__(self, kind: str, base: type | tuple[type, ...] | None = None) -> None:
        self.kind = kind
        self._base = base
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; a second item under one name is refused."""
        if name in self._items:
            raise VigilError(f"{self.kind} {name!r} is already registered")
        if self._base is not None and not isinstance(item, self._base):
            raise VigilError(f"{self.kind} {name!r}: expected {self._base}, got {type(item).__name__}")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The item named ``name``, or an error listing what is available."""
        try:
            return self._items[name]
        except KeyError:
            raise VigilError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The one-line message for an unknown name, with the nearest suggestion."""
        near = difflib.get_close_matches(name, list(self._items), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ";"
        return f"unknown {self.kind} {name!r}{hint} Available: {', '.join(sorted(self._items))}"

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs, sorted by name."""
        return sorted(self._items.items())
