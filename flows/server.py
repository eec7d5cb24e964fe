"""A local Prefect server as a child process: started with its own PREFECT_HOME, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
