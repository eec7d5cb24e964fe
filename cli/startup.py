"""What `vigil run` spends before its flow starts: imports, loading the suite, Ray, and waiting for Prefect.

The fixed cost of a run is what a tiny suite pays before any inference: it was
16 s on the 2-core CI machine (issue 18), mostly importing engines the run did
not use and starting Prefect's temporary server after everything else. The
server now boots while the rest starts (:class:`flows.server.TemporaryServer`),
so ``prefect`` here is only the time the run still *waited* for it;
``server up`` is its own boot time, spent alongside. ``vigil run --verbose``
prints :meth:`StartupClock.line`.

A run forwarded to ``vigil serve``'s warm spare (:mod:`cli.warm`) is timed
from the *client's* start: the spare records the hand-over with
:func:`forwarded`, and the clock's first phase is then the client's own
start-up and the hand-over, named after serve's pid.

Example:
    >>> clock = StartupClock(started=0.0)
    >>> clock.phases.update(imports=1.2, prepare=0.4, ray=0.9, prefect=0.6)
    >>> clock.line(total=3.1, server_up=2.7)
    'started in 3.1 s (imports 1.2 s, prepare 0.4 s, ray 0.9 s, prefect 0.6 s; prefect server up in 2.7 s, alongside)'
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``, 10 ms resolution); None where that is unknown."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime_s - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Handoff:
    """A run this process serves for a ``vigil run`` client: when the client started and when its request arrived (epoch seconds)."""

    client_started: float
    received: float
    serve_pid: int


_handoff: list[Handoff] = []
"""The one request a warm spare serves (it serves one, then exits); empty in any other process."""


def forwarded(client_started: float, serve_pid: int) -> None:
    """Record that this process runs a command forwarded by a client that started at ``client_started`` (epoch seconds)."""
    _handoff[:] = [Handoff(client_started, time.time(), serve_pid)]


def client_start_time() -> float | None:
    """This process's start as epoch seconds (what a client sends a warm spare); None where unknown."""
    age = process_age()
    return None if age is None else time.time() - age


@dataclass
class StartupClock:
    """Seconds per start-up phase of one run, from ``started`` (a ``time.perf_counter()`` reading)."""

    started: float
    phases: dict[str, float] = field(default_factory=dict)

    @classmethod
    def since_process_start(cls, imported_at_age: float | None) -> StartupClock:
        """A clock from the process's start, with the CLI's own imports (the process's age once they were done) as ``imports``.

        In a warm spare serving a forwarded run, from the client's start instead, its first phase the hand-over.
        """
        if _handoff:
            handoff = _handoff[0]
            return cls(started=time.perf_counter() - (time.time() - handoff.client_started),
                       phases={f"forwarded to vigil serve (pid {handoff.serve_pid})": max(handoff.received - handoff.client_started, 0.0)})
        age = process_age()
        if age is None or imported_at_age is None:  # off Linux: from now, the CLI's imports unknown
            return cls(started=time.perf_counter())
        return cls(started=time.perf_counter() - age, phases={"imports": imported_at_age})

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Add the time spent inside the block to ``name`` (a phase may be entered several times)."""
        begun = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - begun

    def elapsed(self) -> float:
        """Seconds since ``started``."""
        return time.perf_counter() - self.started

    def line(self, total: float, server_up: float | None = None) -> str:
        """One line: the total, each phase, and the temporary server's own boot time when one was started."""
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        server = f"; prefect server up in {server_up:.1f} s, alongside" if server_up is not None else ""
        return f"started in {total:.1f} s ({phases}{server})"
