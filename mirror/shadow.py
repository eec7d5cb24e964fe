"""The background half of the mirror: a bounded queue of shadow copies, candidate workers and the log.

Nothing here may slow production: :meth:`ShadowDispatcher.offer` never waits,
a full queue, a slow candidate (timeout) or a failing one drops the copy and
counts it, and Parquet writes happen in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from evaluators.shadow.request_log import format as log
from evaluators.shadow.request_log.format import DROPPED, CandidateStatus
from mirror.candidate import Candidate, CandidateBusy, ShadowRequest
from mirror.config import MirrorConfig
from mirror.hashing import hash_sensitive
from storage.log_writer import LogWriter


@dataclass
class MirrorStats:
    """Counters served at ``GET /_vigil/stats``; each ``dropped_*`` counter is named after its ``candidate_status``."""

    requests: int = 0
    production_errors: int = 0
    shadow_offered: int = 0
    shadow_completed: int = 0
    dropped_queue_full: int = 0
    dropped_timeout: int = 0
    dropped_busy: int = 0
    dropped_error: int = 0
    dropped_shutdown: int = 0
    rows_logged: int = 0

    @property
    def dropped(self) -> int:
        """Shadow copies that produced no candidate answer, for any reason."""
        return sum(getattr(self, status.value) for status in DROPPED)

    def count_drop(self, status: CandidateStatus) -> None:
        """Count one copy dropped with ``status`` (one of :data:`~evaluators.shadow.request_log.format.DROPPED`)."""
        setattr(self, status.value, getattr(self, status.value) + 1)

    def as_dict(self) -> dict[str, float]:
        """Counters plus ``dropped`` and ``drop_rate`` (dropped / offered)."""
        out: dict[str, float] = asdict(self)
        out["dropped"] = self.dropped
        out["drop_rate"] = self.dropped / self.shadow_offered if self.shadow_offered else 0.0
        return out


@dataclass(frozen=True)
class ShadowItem:
    """One proxied request and production's answer, waiting for the candidate."""

    request_id: str
    timestamp: datetime
    method: str
    path: str
    body: bytes
    status: int
    response_body: bytes
    latency_ms: float


class ShadowDispatcher:
    """Feeds shadow copies to the candidate from a bounded queue and logs both answers."""

    def __init__(self, config: MirrorConfig, candidate: Candidate | None, writer: LogWriter) -> None:
        """Bind settings, the candidate (None: log production only) and the log writer; call :meth:`start` in a loop."""
        self.config = config
        self.candidate = candidate
        self.writer = writer
        self.stats = MirrorStats()
        self.queue: asyncio.Queue[ShadowItem] = asyncio.Queue(maxsize=config.queue_size)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the candidate workers and the periodic flusher."""
        workers = self.config.candidate_concurrency if self.candidate is not None else 1
        self._tasks = [asyncio.create_task(self._work()) for _ in range(workers)]
        self._flusher = asyncio.create_task(self._flush_periodically())

    def offer(self, item: ShadowItem) -> None:
        """Queue a shadow copy without waiting; a full queue drops it (still logging production's answer)."""
        self.stats.shadow_offered += 1
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._drop(item, CandidateStatus.DROPPED_QUEUE_FULL)

    async def stop(self) -> None:
        """Drain the queue (up to ``drain_timeout_s``), log what is left as dropped, and flush the log."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), self.config.drain_timeout_s)
        for task in self._tasks:
            task.cancel()
        self._flusher.cancel()
        await asyncio.gather(*self._tasks, self._flusher, return_exceptions=True)
        while not self.queue.empty():
            self._drop(self.queue.get_nowait(), CandidateStatus.DROPPED_SHUTDOWN)
        await asyncio.to_thread(self.writer.close)

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                await self._shadow(item)
            finally:
                self.queue.task_done()

    async def _shadow(self, item: ShadowItem) -> None:
        if self.candidate is None:
            self._log(item, None, None, CandidateStatus.NOT_SHADOWED)
            return
        request = ShadowRequest(item.method, item.path, item.body, _json(item.body))  # parsed here, off the answer path
        start = time.perf_counter()
        try:
            answer = await asyncio.wait_for(self.candidate(request), self.config.candidate_timeout_s)
        except TimeoutError:
            self._drop(item, CandidateStatus.DROPPED_TIMEOUT)
        except CandidateBusy:
            self._drop(item, CandidateStatus.DROPPED_BUSY)
        except Exception:  # noqa: BLE001 - any candidate failure is a dropped copy, never a proxy failure
            self._drop(item, CandidateStatus.DROPPED_ERROR)
        else:
            self.stats.shadow_completed += 1
            self._log(item, answer, (time.perf_counter() - start) * 1000, CandidateStatus.OK)

    def _drop(self, item: ShadowItem, status: CandidateStatus) -> None:
        self.stats.count_drop(status)
        self._log(item, None, None, status)

    def _log(self, item: ShadowItem, answer: Any, latency_ms: float | None, status: CandidateStatus) -> None:
        cfg = self.config
        production = _json(item.response_body)
        production = production if isinstance(production, dict) else {}
        payload = _json(item.body)
        features = payload.get(cfg.features_key, payload) if isinstance(payload, dict) else None
        if features is not None:
            features = hash_sensitive(features, cfg.sensitive_fields, cfg.salt or "")
        candidate = answer if isinstance(answer, dict) else {}
        self.writer.append(
            {
                log.REQUEST_ID: item.request_id,
                log.TIMESTAMP: item.timestamp,
                log.METHOD: item.method,
                log.PATH: item.path,
                log.HTTP_STATUS: item.status,
                log.FEATURES: None if features is None else json.dumps(features, separators=(",", ":")),
                log.PREDICTION: _number(production.get(cfg.prediction_key)),
                log.SCORES: _numbers(production.get(cfg.scores_key)),
                log.LATENCY_MS: item.latency_ms,
                log.CANDIDATE_PREDICTION: _number(candidate.get(cfg.prediction_key)),
                log.CANDIDATE_SCORES: _numbers(candidate.get(cfg.scores_key)),
                log.CANDIDATE_LATENCY_MS: latency_ms,
                log.CANDIDATE_STATUS: status.value,
            }
        )
        self.stats.rows_logged += 1

    async def _flush_periodically(self) -> None:
        tick = min(self.config.flush_seconds, 0.25)
        while True:
            await asyncio.sleep(tick)
            if self.writer.due():
                await asyncio.to_thread(self.writer.flush)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _numbers(v: Any) -> list[float] | None:
    if isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return [float(x) for x in v]
    return None
