"""How an :class:`~workers.pool.InferencePool` call is cut into shards, and how their scores are put back together.

Example:
    >>> shard_bounds(10, shard_rows=4)
    [(0, 4), (4, 8), (8, 10)]
    >>> [b - a for a, b in shard_bounds(1000, shard_rows=20, parts=4, batch=10)]
    [250, 250, 250, 250]
    >>> [b - a for a, b in shard_bounds(1000, shard_rows=20, parts=4, batch=10, guided=True)][:6]
    [250, 190, 140, 110, 80, 60]
    >>> [b - a for a, b in shard_bounds(1000, shard_rows=20, parts=4, batch=10, taper=2, lanes=2)]
    [250, 250, 130, 130, 130, 110]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from suite.errors import VigilError
from workers.device import parallel_copy
from workers.shared_output import SharedOutput, Written


def shard_bounds(rows: int, *, shard_rows: int, parts: int | None = None, batch: int = 1, guided: bool = False,
                 taper: int = 1, lanes: int = 1) -> list[tuple[int, int]]:
    """Each shard's rows ``(start, stop)``, in order; one empty shard when there are no rows.

    Without ``parts`` every shard has ``shard_rows`` rows (CPU pools). With ``parts`` (GPU pools:
    ``gpu_shards`` × actors) the shards are even, ``1 / parts`` of the rows each, in whole
    ``batch``-es and at least ``shard_rows``. ``guided=True`` makes each take ``1 / parts`` of the
    rows *still left* instead, so they shrink toward the end (guided scheduling: on an H100 it lost
    to even shards while a shard's lane was held through its put, and ties since; docs/architecture.md).
    ``taper=k`` cuts the rows of the last round of even shards (the last ``lanes``, computed at
    once) into ``k`` times as many, so the scores still to be returned once the device is done are
    a ``k``-th as big (each still in whole batches and at least ``shard_rows``).

    Raises:
        ValueError: ``parts`` is below 1.
    """
    if parts is not None and parts < 1:
        raise ValueError(f"gpu_shards: expected at least 1 shard per actor, got {parts} in all")
    if parts is None:
        return [(s, min(s + shard_rows, rows)) for s in range(0, max(rows, 1), shard_rows)]
    bounds, start, size = [], 0, 0
    while start < rows:
        if guided or not bounds:
            share = -(-(rows - start) // parts)
            size = max(shard_rows, -(-share // batch) * batch)  # whole batches: every forward pass is full
        bounds.append((start, min(start + size, rows)))
        start += size
    if taper > 1 and not guided and len(bounds) > lanes:
        tail = bounds[-lanes][0]
        bounds = bounds[:-lanes] + [(tail + a, tail + b) for a, b in shard_bounds(rows - tail, shard_rows=shard_rows,
                                                                                   parts=lanes * taper, batch=batch)]
    return bounds or [(0, 0)]


class Gathered:
    """The output of a call whose scores come through the object store, filled shard by shard as they arrive.

    Shards may be put from several threads at once; each copy is cut into up to ``parts`` slices
    copied on ``copier`` (the output's fresh pages are faulted in by those threads, not one).
    """

    def __init__(self, rows: int, what: str, copier: Executor | None = None, parts: int = 1) -> None:
        self.rows, self.what = rows, what
        self.copier, self.parts = copier, parts
        self.out: np.ndarray | None = None
        self._lock = threading.Lock()

    def put(self, bounds: tuple[int, int], scores: np.ndarray) -> None:
        """Copy one shard's scores into rows ``bounds`` (the output takes the first shard's dtype and row shape)."""
        with self._lock:
            if self.out is None:
                self.out = np.empty((self.rows, *scores.shape[1:]), dtype=scores.dtype)
        if scores.shape[1:] != self.out.shape[1:] or len(scores) != bounds[1] - bounds[0]:
            raise VigilError(f"{self.what}: expected scores of {bounds[1] - bounds[0]} rows of shape {self.out.shape[1:]}"
                             f" for rows {bounds[0]}:{bounds[1]} (as the first shard's), got shape {scores.shape}")
        parallel_copy(self.out[bounds[0] : bounds[1]], scores, self.copier, self.parts)

    def array(self) -> np.ndarray:
        """The whole output (an empty float32 one when there were no rows and no shard)."""
        return self.out if self.out is not None else np.empty((0,), dtype=np.float32)


def assemble(gathered: Gathered, held: dict[int, np.ndarray], written: dict[int, Written], bounds: list[tuple[int, int]],
             shared: SharedOutput | None) -> np.ndarray:
    """A call's output once every shard is in: the shared file when some actor wrote into it, else ``gathered``.

    ``held`` are scores that came back as values (actors on other nodes, small shards), put into
    whichever output is used; ``written`` the notes of shards written into the shared file.
    """
    if shared is not None and len(held) < len(bounds):  # some actor wrote into the shared file
        for index, result in held.items():  # as notes, so the shared file's shape is checked
            written[index] = Written(len(result), result.dtype.str, tuple(result.shape[1:]))
        out = shared.array([written[i] for i in sorted(written)])
        for index, result in held.items():
            out[bounds[index][0] : bounds[index][1]] = result
        return out
    for index, result in held.items():
        gathered.put(bounds[index], result)
    return gathered.array()


class Takers:
    """Driver threads that take shards' scores as they arrive and copy them into a call's output.

    ``fetch`` gets one shard's scores from its reference (``ray.get``: the caller's Ray); a few taker
    threads fetch at once, each copying into the output on up to ``threads`` copy threads, so the
    loop that deals out shards does not wait on them. ``on_time`` hears each take's seconds.
    """

    def __init__(self, fetch: Callable[[Any], np.ndarray], threads: int, on_time: Callable[[float], None], takers: int = 4) -> None:
        self.fetch, self.threads, self.on_time = fetch, threads, on_time
        self._takers = ThreadPoolExecutor(takers, thread_name_prefix="vigil-take")
        self._copiers = ThreadPoolExecutor(threads, thread_name_prefix="vigil-gather")

    def output(self, rows: int, what: str) -> Gathered:
        """An empty output of ``rows`` rows that this one's copy threads fill."""
        return Gathered(rows, what, self._copiers, self.threads)

    def take(self, ref: Any, gathered: Gathered, bounds: tuple[int, int]) -> Future[None]:
        """Fetch one shard's scores and copy them into rows ``bounds`` of ``gathered``, on a taker thread."""
        return self._takers.submit(self._take, ref, gathered, bounds)

    def _take(self, ref: Any, gathered: Gathered, bounds: tuple[int, int]) -> None:
        began = time.perf_counter()
        scores = self.fetch(ref)
        gathered.put(bounds, scores)
        del scores  # its object-store copy goes with this last reference
        self.on_time(time.perf_counter() - began)

    def close(self) -> None:
        """Stop the threads (takes under way finish; queued ones are dropped)."""
        for threads in (self._takers, self._copiers):
            threads.shutdown(wait=False, cancel_futures=True)


class Watchdog:
    """When each actor last showed progress, so one that holds shards and finishes none for ``timeout_s`` counts as stuck.

    An actor's clock starts when it is handed a shard while it holds none, and restarts each time
    it finishes one; shards queued behind others on a busy actor do not start it again.

    Example:
        >>> now = [0.0]
        >>> watch = Watchdog(10.0, clock=lambda: now[0])
        >>> watch.started(1); now[0] = 4.0; watch.started(2); now[0] = 11.0
        >>> watch.stuck({1, 2}), watch.wait_s({2})
        ([1], 3.0)
    """

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s, self.clock = timeout_s, clock
        self._since: dict[Any, float] = {}

    def started(self, key: Any) -> None:
        """The actor ``key`` was handed a shard while it held none."""
        self._since[key] = self.clock()

    finished = started  # a finished shard restarts the actor's clock

    def stuck(self, busy: set[Any]) -> list[Any]:
        """The actors among ``busy`` (those holding shards) that finished none for ``timeout_s``."""
        now = self.clock()
        return [key for key in busy if now - self._since.get(key, now) >= self.timeout_s]

    def wait_s(self, busy: set[Any]) -> float:
        """How long the pool may wait for a result before one of ``busy`` would count as stuck (at least 50 ms)."""
        now = self.clock()
        return max(0.05, min((self._since.get(key, now) + self.timeout_s - now for key in busy), default=self.timeout_s))
