"""The mirror's ASGI app: forward to production, answer with production, shadow in the background."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from evaluators.shadow.request_log.format import MIRROR_COLUMNS
from mirror.candidate import Candidate, HttpCandidate
from mirror.config import MirrorConfig
from mirror.shadow import ShadowDispatcher, ShadowItem
from mirror.transport import KeepAliveTransport
from storage.log_writer import LogWriter
from storage.request_log import arrow_schema

STATS_PATH = "/_vigil/stats"
# RFC 9110 §7.6.1 connection-specific fields (plus any a Connection header names)
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# the forwarding client sets these for its own hop
RECOMPUTED = HOP_BY_HOP | {"host", "content-length"}
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def build_app(config: MirrorConfig, candidate: Candidate | None = None) -> Starlette:
    """The mirror app; ``candidate`` overrides ``config.candidate_url`` (None and no URL: log only).

    The app's ``state.dispatcher`` holds the live counters once it has started.
    """
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        shadow_to = candidate
        if shadow_to is None and config.candidate_url:
            shadow_to = HttpCandidate(config.candidate_url, timeout_s=config.candidate_timeout_s)
        writer = LogWriter(config.log_dir, arrow_schema(MIRROR_COLUMNS), batch_rows=config.batch_rows, flush_seconds=config.flush_seconds)
        client = httpx.AsyncClient(base_url=config.production_url, timeout=config.production_timeout_s, transport=KeepAliveTransport())
        client.headers.clear()  # forward the caller's headers only, not httpx's defaults (user-agent, accept...)
        dispatcher = ShadowDispatcher(config, shadow_to, writer)
        await dispatcher.start()
        state.update(client=client, dispatcher=dispatcher)
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            await dispatcher.stop()
            await client.aclose()
            closer = getattr(shadow_to, "aclose", None)
            if closer is not None:
                await closer()

    async def stats(_: Request) -> JSONResponse:
        dispatcher: ShadowDispatcher = state["dispatcher"]  # type: ignore[assignment]
        body = dispatcher.stats.as_dict() | {"queue_depth": dispatcher.queue.qsize(), "rows_pending": dispatcher.writer.pending, "rows_written": dispatcher.writer.rows_written}
        return JSONResponse(body)

    async def proxy(request: Request) -> Response:
        client: httpx.AsyncClient = state["client"]  # type: ignore[assignment]
        dispatcher: ShadowDispatcher = state["dispatcher"]  # type: ignore[assignment]
        arrived = datetime.now(UTC)
        start = time.perf_counter()
        body = await request.body()
        headers = _end_to_end(request.headers.raw, RECOMPUTED)
        path = request.url.path
        target = path + (f"?{request.url.query}" if request.url.query else "")
        dispatcher.stats.requests += 1
        try:
            upstream = await client.send(client.build_request(request.method, target, headers=headers, content=body), stream=True)
            try:
                content = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
        except httpx.HTTPError as error:
            dispatcher.stats.production_errors += 1
            return JSONResponse({"error": f"mirror: production unreachable: {type(error).__name__}"}, status_code=502)
        latency_ms = (time.perf_counter() - start) * 1000
        response = Response(content=content, status_code=upstream.status_code)
        raw = _end_to_end(upstream.headers.raw, HOP_BY_HOP)
        if not any(k.lower() == b"content-length" for k, _ in raw):
            raw.append((b"content-length", str(len(content)).encode()))
        response.raw_headers = raw
        if request.method in config.shadow_methods and path.startswith(config.shadow_path_prefix):
            request_id = request.headers.get(config.request_id_header) or uuid.uuid4().hex
            dispatcher.offer(ShadowItem(request_id, arrived, request.method, path, body, upstream.status_code, content, latency_ms))
        return response

    routes = [Route(STATS_PATH, stats, methods=["GET"]), Route("/{path:path}", proxy, methods=_METHODS)]
    return Starlette(routes=routes, lifespan=lifespan)


def _end_to_end(raw: list[tuple[bytes, bytes]], drop: frozenset[str]) -> list[tuple[bytes, bytes]]:
    """Headers without hop-by-hop fields, including those a Connection header lists."""
    named = [v.decode("latin-1") for k, v in raw if k.lower() == b"connection"]
    if named:
        drop = drop | {token.strip().lower() for value in named for token in value.split(",")}
    return [(k, v) for k, v in raw if k.decode("latin-1").lower() not in drop]
