"""Run the mirror with uvicorn: in the foreground for the CLI, or in a thread for tests and examples."""

from __future__ import annotations

import socket
import sys
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from mirror.app import build_app
from mirror.candidate import Candidate
from mirror.config import MirrorConfig


def uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """Uvicorn settings for a proxy: no ``server``/``date`` headers of its own, so production's pass through alone."""
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False, date_header=False, lifespan="on"
    )


def run_mirror(config: MirrorConfig, candidate: Candidate | None = None) -> None:
    """Serve the mirror until SIGINT/SIGTERM, then drain the shadow queue and flush the log.

    Args:
        config: where to listen and forward, queue bounds, log folder.
        candidate: an async callable (e.g. ``mirror.candidate.ThreadCandidate(predict)``);
            by default ``config.candidate_url``, or none (production answers are logged only).

    The process's GIL switch interval is lowered to 0.5 ms: a candidate or log-writing
    thread then holds the interpreter for at most that long while a production answer waits.
    """
    sys.setswitchinterval(0.0005)
    uvicorn.Server(uvicorn_config(build_app(config, candidate), config.host, config.port)).run()


class ThreadedServer:
    """An ASGI app served by uvicorn on a background thread, on a socket bound before start.

    Example:
        >>> from starlette.applications import Starlette
        >>> server = ThreadedServer(Starlette()).start()
        >>> server.port > 0
        True
        >>> server.stop()
    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = self.socket.getsockname()[:2]
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> ThreadedServer:
        """Start serving; returns once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start within {timeout_s} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Ask uvicorn to exit (graceful: lifespan shutdown runs) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
        self.socket.close()
