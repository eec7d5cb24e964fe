"""Candidates the mirror can shadow to: an HTTP endpoint or a local predictor run in threads.

A candidate is any async callable taking a :class:`ShadowRequest` and
returning the answer as a mapping (``prediction`` and/or ``scores``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class ShadowRequest:
    """The request as production received it: method, path, raw body and its parsed JSON (or None)."""

    method: str
    path: str
    body: bytes
    payload: Any


Candidate = Callable[[ShadowRequest], Awaitable[Mapping[str, Any]]]


class CandidateBusy(Exception):
    """The candidate already has as many calls in flight as it may; this copy is dropped."""


class HttpCandidate:
    """Send the shadow copy to another server (same method, path and body) and parse its JSON answer."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, max_connections: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.client = httpx.AsyncClient(timeout=timeout_s, limits=limits)

    async def __call__(self, request: ShadowRequest) -> Mapping[str, Any]:
        response = await self.client.request(
            request.method, self.base_url + request.path, content=request.body, headers={"content-type": "application/json"}
        )
        response.raise_for_status()
        return json.loads(response.content)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


class ThreadCandidate:
    """Run a blocking ``predict(payload) -> mapping`` in a thread pool, never queueing behind itself.

    When ``max_in_flight`` calls are still running (a timed-out call keeps its
    thread until it returns), further calls raise :class:`CandidateBusy` at once
    instead of piling up work.
    """

    def __init__(self, predict: Callable[[Any], Mapping[str, Any]], *, max_in_flight: int = 2) -> None:
        self.predict = predict
        self.max_in_flight = max_in_flight
        self.executor = ThreadPoolExecutor(max_in_flight, thread_name_prefix="vigil-candidate")
        self.in_flight = 0

    async def __call__(self, request: ShadowRequest) -> Mapping[str, Any]:
        if self.in_flight >= self.max_in_flight:
            raise CandidateBusy(f"{self.in_flight} calls in flight")
        self.in_flight += 1
        future = asyncio.get_running_loop().run_in_executor(self.executor, self.predict, request.payload)
        future.add_done_callback(self._done)
        return await asyncio.shield(future)  # a timeout cancels the wait, not the thread's bookkeeping

    def _done(self, _: asyncio.Future[Mapping[str, Any]]) -> None:
        self.in_flight -= 1

    async def aclose(self) -> None:
        """Stop the thread pool without waiting for a stuck prediction."""
        self.executor.shutdown(wait=False, cancel_futures=True)
