"""A lean keep-alive HTTP/1.1 transport for httpx, used on the mirror's hot path to production.

httpcore's default pool re-examines every pooled connection (a ``poll`` system
call each) whenever a request starts or ends; at a few hundred requests per
second on loopback that was most of the mirror's CPU. This transport keeps a
stack of idle connections per host and parses with h11, so each request costs
one pop, one write and the reads its answer needs.
"""

from __future__ import annotations

import asyncio
import contextlib

import h11
import httpx

_Key = tuple[str, str, int]
_RETRYABLE = (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError, EOFError)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """Plain-HTTP/1.1 transport with a per-host stack of at most ``max_idle`` idle connections.

    Response bodies are returned exactly as received (de-chunked, never decompressed).

    Example:
        >>> client = httpx.AsyncClient(transport=KeepAliveTransport(), base_url="http://127.0.0.1:8000")
    """

    def __init__(self, *, max_idle: int = 32) -> None:
        self.max_idle = max_idle
        self._idle: dict[_Key, list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"KeepAliveTransport: expected an http:// URL, got {request.url.scheme}://")
        key = (request.url.scheme, request.url.host, request.url.port or 80)
        body = await request.aread()
        idle = self._idle.setdefault(key, [])
        while idle:  # a pooled connection the server has since closed fails before any answer: try the next
            conn = idle.pop()
            try:
                return await self._exchange(conn, key, request, body)
            except _RETRYABLE:
                conn.close()
        try:
            reader, writer = await asyncio.open_connection(key[1], key[2])
        except OSError as error:
            raise httpx.ConnectError(str(error), request=request) from error
        conn = _Connection(reader, writer)
        try:
            return await self._exchange(conn, key, request, body)
        except _RETRYABLE as error:
            conn.close()
            raise httpx.RemoteProtocolError(f"production closed the connection: {error!r}", request=request) from error

    async def _exchange(self, conn: _Connection, key: _Key, request: httpx.Request, body: bytes) -> httpx.Response:
        c = conn.h11
        head = h11.Request(method=request.method, target=request.url.raw_path, headers=list(request.headers.raw))
        conn.writer.write(c.send(head) + (c.send(h11.Data(data=body)) if body else b"") + c.send(h11.EndOfMessage()))
        chunks: list[bytes] = []
        response: h11.Response | None = None
        while True:
            event = c.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(65536)
                if not data and response is None:
                    raise ConnectionError("connection closed before a response")
                c.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("connection closed mid-response")
            # h11.InformationalResponse (1xx) is skipped: the final response follows
        assert response is not None
        self._release(conn, key)
        return httpx.Response(
            response.status_code,
            headers=list(response.headers),
            stream=httpx.ByteStream(b"".join(chunks)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(response.reason)},
            request=request,
        )

    def _release(self, conn: _Connection, key: _Key) -> None:
        idle = self._idle.setdefault(key, [])
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE and len(idle) < self.max_idle:
            conn.h11.start_next_cycle()
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                with contextlib.suppress(Exception):
                    conn.close()
        self._idle.clear()
