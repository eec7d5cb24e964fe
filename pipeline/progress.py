"""Progress reporting that any front end can plug into (rich bars, Prefect artifacts).

The reporter lives in a context variable, so a caller sets it around a run and
stages report without knowing who listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Reporter(Protocol):
    """Receives progress: ``total`` units of work named ``stage``, ``done`` so far."""

    def update(self, stage: str, done: int, total: int, note: str = "") -> None: ...


class _Silent:
    def update(self, stage: str, done: int, total: int, note: str = "") -> None:
        return None


_current: ContextVar[tuple[Reporter, ...]] = ContextVar("vigil_progress", default=())


def report(stage: str, done: int, total: int, note: str = "") -> None:
    """Tell every active reporter how far ``stage`` has got."""
    for reporter in _current.get():
        reporter.update(stage, done, total, note)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Add ``reporter`` for the duration of the block."""
    token = _current.set((*_current.get(), reporter))
    try:
        yield
    finally:
        _current.reset(token)


SILENT: Reporter = _Silent()
