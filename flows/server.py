"""A local Prefect server as a child process: started with its own PREFECT_HOME, stopped by PID, killed with us.

Both servers Vigil may run (``PrefectServer`` for ``vigil serve``, and the
temporary one Prefect starts without ``PREFECT_API_URL``, via
:func:`start_ephemeral_server`) carry Linux ``PR_SET_PDEATHSIG``: when the
process that started them dies, even by ``kill -9``, the kernel kills them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suite.errors import VigilError


class PrefectServer:
    """``prefect server start`` on ``host:port`` (SQLite under ``home``, or Postgres by URL).

    Used as a context manager (``with PrefectServer(home, port=4200) as server:``), it
    is healthy inside the block and stopped after it; ``server.api_url`` is
    ``http://127.0.0.1:4200/api``.
    """

    def __init__(self, home: Path, port: int, host: str = "127.0.0.1", database_url: str | None = None) -> None:
        self.home, self.port, self.host, self.database_url = home, port, host, database_url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        """The API address clients set as PREFECT_API_URL."""
        return f"http://{self.host}:{self.port}/api"

    def start(self, timeout_s: float = 90.0) -> PrefectServer:
        """Start the server and wait until ``/api/health`` answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "true",
               # the UI's own idea of where the API is (else it asks port 4200 whatever --port says)
               "PREFECT_SERVER_API_HOST": self.host, "PREFECT_SERVER_API_PORT": str(self.port), "PREFECT_UI_API_URL": self.api_url}
        env.pop("PREFECT_API_URL", None)
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        log = (self.home / "server.log").open("ab")
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)]
        dies_with_us = _parent_death_signal() if _main_thread_on_linux() else None  # `vigil serve` killed -9 takes its server along
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=dies_with_us)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VigilError(f"prefect server exited with {self.process.returncode}; see {self.home / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise VigilError(f"prefect server on {self.host}:{self.port}: expected healthy within {timeout_s:.0f} s, got no answer")

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the temporary server Prefect starts by itself ------------------------------------------
def _parent_death_signal() -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when its parent dies (Linux ``PR_SET_PDEATHSIG``).

    Everything is looked up before the fork: the child only calls ``prctl``
    and checks that the parent did not die before the request took effect.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


_PR_SET_PDEATHSIG = 1


def _main_thread_on_linux() -> bool:
    """Where ``PR_SET_PDEATHSIG`` does what we want: it fires when the creating *thread* ends, so only from the main thread."""
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def start_ephemeral_server() -> str | None:
    """Start Prefect's temporary API server now, as a child the kernel kills with this process.

    With no ``PREFECT_API_URL``, Prefect starts a temporary ``uvicorn`` server
    on first use and stops it at exit; a ``kill -9`` skips that, and the server
    used to run on for ever. Started here instead (same class, so Prefect finds
    and reuses it), its process carries ``PR_SET_PDEATHSIG``. Call it from the
    main thread: the kernel ties the signal to the thread that started the
    child. Does nothing with an API URL set, or off Linux.

    Returns:
        The temporary server's API URL, or None when none was started.
    """
    from prefect.server.api import server as prefect_server
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value() or not _main_thread_on_linux():
        return None

    class _DiesWithParent:
        """``subprocess`` as Prefect's server module sees it, with every Popen dying with this process."""

        def __getattr__(self, name: str) -> Any:
            return getattr(subprocess, name)

        @staticmethod
        def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # noqa: N802 (mirrors subprocess.Popen)
            return subprocess.Popen(*args, preexec_fn=_parent_death_signal(), **kwargs)

    server = prefect_server.SubprocessASGIServer()  # Prefect's per-process singleton: its own later calls get this one
    if not server.running:
        prefect_server.subprocess = _DiesWithParent()  # type: ignore[assignment]
        timeout_s = max(int(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), _EPHEMERAL_START_TIMEOUT_S)
        try:
            server.start(timeout=timeout_s)
        except RuntimeError as error:  # Prefect's only signal for "never became healthy"
            raise VigilError(f"prefect's temporary server: expected healthy within {timeout_s} s, got {str(error).splitlines()[0]}") from error
        finally:
            prefect_server.subprocess = subprocess
    return server.api_url


_EPHEMERAL_START_TIMEOUT_S = 90
"""Prefect's default (20 s) is too short on a busy 2-core machine, where the server has taken 20 s to come up."""
