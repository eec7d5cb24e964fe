"""A real Prefect server on loopback for the orchestration tests, and helpers to read its API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.server import PrefectServer
from suite.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` as a child process with its own PREFECT_HOME; stopped by PID."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect-home"), port=free_port())
    with server:
        yield server.api_url
    assert server.process is not None and server.process.poll() is not None


def api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST (with a body) or GET one Prefect REST endpoint."""
    with httpx.Client(timeout=30) as client:
        response = client.post(url + path, json=body) if body is not None else client.get(url + path)
    response.raise_for_status()
    return response.json()


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def vigil(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the CLI from this checkout."""
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs)


def child_env(api_url: str, home: Path) -> dict[str, str]:
    """Environment of a CLI child: this checkout first, the test server, a private VIGIL_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIGIL_"))}
    return {**env, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": api_url, "VIGIL_HOME": str(home),
            "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
