"""Latency the shadow mirror adds, measured on loopback.

Starts a production stub and the mirror as subprocesses (stopped by PID),
drives an open-loop load from a third process, alternating direct and
mirrored requests at ``--rate`` requests per second each, and prints p50/p99
direct vs through the mirror, the added latency and the shadow drop rate.
The last line is ``p99_added_ms: X``. The candidate is a small NumPy model run
in a thread, as ``vigil shadow mirror`` runs one.

Usage:
    PYTHONPATH=. python bench/mirror.py [--rate 200] [--duration 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
# run as a script, this file's folder comes first on sys.path and its name would hide the mirror package
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from suite.processes import free_port  # noqa: E402


def production_main(port: int) -> None:
    """A production stub: a 16→3 linear-softmax model behind POST /predict."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    weights = np.random.default_rng(0).normal(size=(16, 3))

    async def predict(request: Request) -> JSONResponse:
        x = np.asarray((await request.json())["features"]["x"], float)
        z = np.exp(x @ weights - (x @ weights).max())
        p = z / z.sum()
        return JSONResponse({"prediction": int(p.argmax()), "scores": p.tolist()})

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])
    uvicorn.run(app, host=LOOPBACK, port=port, log_level="warning", access_log=False)


def mirror_main(port: int, production_url: str, log_dir: str) -> None:
    """The mirror with a thread-run NumPy candidate (a slightly different model)."""
    from mirror.candidate import ThreadCandidate
    from mirror.config import MirrorConfig
    from mirror.server import run_mirror

    weights = np.random.default_rng(1).normal(size=(16, 3))

    def predict(payload: Any) -> dict[str, Any]:
        x = np.asarray(payload["features"]["x"], float)
        z = np.exp(x @ weights - (x @ weights).max())
        p = z / z.sum()
        return {"prediction": int(p.argmax()), "scores": p.tolist()}

    config = MirrorConfig(production_url=production_url, log_dir=log_dir, host=LOOPBACK, port=port, candidate_timeout_s=0.5, candidate_concurrency=2)
    run_mirror(config, ThreadCandidate(predict, max_in_flight=2))


class LoopbackClient:
    """A lean keep-alive HTTP/1.1 client for the load process, so the load itself costs little CPU."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes) -> int:
        while self.idle:  # an idle connection may have been closed by the server's keep-alive timeout
            try:
                return await self._exchange(self.idle.pop(), path, body)
            except (asyncio.IncompleteReadError, ConnectionError):
                continue
        return await self._exchange(await asyncio.open_connection(self.host, self.port), path, body)

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, body: bytes) -> int:
        reader, writer = conn
        head = f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        status_line = await reader.readuntil(b"\r\n")
        headers = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        self.idle.append(conn)
        return int(status_line.split()[1])

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def drive(direct: str, mirrored: str, rate: float, duration: float, warmup: float) -> dict[str, list[float]]:
    """Open-loop load: every 1/(2·rate) s the next request goes alternately direct or through the mirror."""
    rng = np.random.default_rng(7)
    bodies = [json.dumps({"features": {"x": rng.normal(size=16).round(4).tolist()}}).encode() for _ in range(256)]
    out: dict[str, list[float]] = {"direct": [], "mirror": []}
    clients = [("direct", LoopbackClient(direct)), ("mirror", LoopbackClient(mirrored))]

    async def one(i: int, record: bool) -> None:
        name, client = clients[i % 2]
        start = time.perf_counter()
        status = await client.post("/predict", bodies[i % len(bodies)])
        elapsed = (time.perf_counter() - start) * 1000
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status}")
        if record:
            out[name].append(elapsed)

    interval = 1 / (2 * rate)
    n_warm, n_total = int(warmup * 2 * rate), int((warmup + duration) * 2 * rate)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n_total):
        delay = t0 + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, i >= n_warm)))
    await asyncio.gather(*tasks)
    for _, client in clients:
        client.close()
    return out


def wait_ready(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready in {timeout_s} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID (uvicorn then drains and flushes), SIGKILL if it hangs."""
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "production", "mirror", "load"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--production")
    parser.add_argument("--mirror")
    parser.add_argument("--log-dir")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second on each path")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    if args.role == "production":
        return production_main(args.port)
    if args.role == "mirror":
        return mirror_main(args.port, args.production, args.log_dir)
    if args.role == "load":
        print(json.dumps(asyncio.run(drive(args.production, args.mirror, args.rate, args.duration, args.warmup))))
        return

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    me = [sys.executable, str(Path(__file__).resolve())]
    prod_port, mirror_port = free_port(), free_port()
    production_url, mirror_url = f"http://{LOOPBACK}:{prod_port}", f"http://{LOOPBACK}:{mirror_port}"
    with tempfile.TemporaryDirectory() as tmp:
        log_dir = str(Path(tmp) / "log")
        production = subprocess.Popen([*me, "production", "--port", str(prod_port)], env=env)
        mirror = subprocess.Popen([*me, "mirror", "--port", str(mirror_port), "--production", production_url, "--log-dir", log_dir], env=env)
        try:
            wait_ready(production_url + "/health")
            wait_ready(mirror_url + "/_vigil/stats")
            load = subprocess.run(
                [*me, "load", "--production", production_url, "--mirror", mirror_url, "--rate", str(args.rate), "--duration", str(args.duration), "--warmup", str(args.warmup)],
                env=env, capture_output=True, text=True,
            )
            if load.returncode != 0:
                raise RuntimeError(f"load process failed: {load.stderr[-2000:]}")
            stats = httpx.get(mirror_url + "/_vigil/stats").json()
        finally:
            stop(mirror)
            stop(production)
        from pipeline.shadow.log import read_request_log
        from evaluators.shadow.request_log.rows import LogSchema

        schema = LogSchema(features=("x",), classes=(0, 1, 2), mirror=True)  # only rows_in is read
        logged = read_request_log(log_dir, schema, write_quarantine=False).counts.rows_in
    result = json.loads(load.stdout.strip().splitlines()[-1])
    direct, mirrored = np.asarray(result["direct"]), np.asarray(result["mirror"])
    p = lambda a, q: float(np.percentile(a, q))  # noqa: E731
    print(f"requests: {len(direct)} direct + {len(mirrored)} mirrored at {args.rate:g} req/s each, {args.duration:g} s (+{args.warmup:g} s warm-up)")
    print(f"direct  p50 {p(direct, 50):.3f} ms  p99 {p(direct, 99):.3f} ms")
    print(f"mirror  p50 {p(mirrored, 50):.3f} ms  p99 {p(mirrored, 99):.3f} ms")
    print(f"added   p50 {p(mirrored, 50) - p(direct, 50):.3f} ms  p99 {p(mirrored, 99) - p(direct, 99):.3f} ms")
    print(f"shadow: offered {stats['shadow_offered']}, completed {stats['shadow_completed']}, dropped {stats['dropped']} (rate {stats['drop_rate']:.4f}); rows logged after shutdown {logged}")
    print(f"p99_added_ms: {p(mirrored, 99) - p(direct, 99):.3f}")


if __name__ == "__main__":
    main()
