"""A small production model server for mirror tests: deterministic answers, varied headers and statuses."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


def production_answer(features: dict[str, float]) -> dict[str, object]:
    """Class 1 when x > 0, with a probability that grows with |x|."""
    x = float(features.get("x", 0.0))
    p1 = min(0.99, max(0.01, 0.5 + x / 4))
    return {"prediction": int(p1 > 0.5), "scores": [1 - p1, p1]}


def production_app(delay_s: float = 0.0) -> Starlette:
    """The stub: POST /predict, GET /health, POST /echo, POST /created (two cookies), GET /chunked, GET /gzip."""

    async def predict(request: Request) -> Response:
        if delay_s:
            await asyncio.sleep(delay_s)
        body = await request.json()
        response = JSONResponse(production_answer(body["features"]), headers={"x-model-version": "prod-7"})
        return response

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream", headers={"x-query": request.url.query})

    async def created(_: Request) -> Response:
        response = JSONResponse({"made": True}, status_code=201)
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def chunked(_: Request) -> Response:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"part {i};".encode()

        return StreamingResponse(parts(), media_type="text/plain")

    async def zipped(_: Request) -> Response:
        return Response(gzip.compress(b"compressed answer", mtime=0), headers={"content-encoding": "gzip"}, media_type="text/plain")

    return Starlette(
        routes=[
            Route("/chunked", chunked),
            Route("/gzip", zipped),
            Route("/predict", predict, methods=["POST"]),
            Route("/health", health),
            Route("/echo", echo, methods=["POST"]),
            Route("/created", created, methods=["POST"]),
        ]
    )
