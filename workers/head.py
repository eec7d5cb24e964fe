"""One local Ray head for a long-lived process (``vigil serve``): a child process group, stopped by PID, dead with its parent.

Why: every run that starts its own local Ray pays 3 to 5 s for it (issue 18),
and ``vigil serve`` runs many. With one head for serve's lifetime, the flow runs
its runner spawns and its warm spares (:mod:`cli.warm`) join by address
(~0.05 s).

The head is ``ray start --head --block`` as its own process group, with explicit
free ports outside Ray's worker range (10002-19999), the dashboard off, a short
temp folder (Ray's socket paths must stay under ~107 characters) and token
authentication with a token file only this user can read; ``ray stop`` is never
used (it kills every Ray on the machine). It is stopped by signalling its
process group; when its parent dies, even by ``kill -9``, the kernel kills the
``ray start`` process (``PR_SET_PDEATHSIG``) and :mod:`workers.reaper` kills
what it started (gcs_server, raylet, their agents and workers).

Example:
    >>> head = RayHead(Path("/tmp/serve"), num_cpus=4)  # doctest: +SKIP
    >>> head.spawn().wait_ready().address  # doctest: +SKIP
    '127.0.0.1:53011'
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite import processes
from suite.errors import VigilError
from suite.processes import connect_error, main_thread_on_linux, parent_death_signal
from workers.reaper import start_reaper

RAY_WORKER_PORTS = range(10002, 20000)
"""Ray's default worker port range: none of the head's own ports may fall inside it."""


def free_port() -> int:
    """A TCP port nobody listens on now, outside Ray's worker range."""
    return processes.free_port(avoid=RAY_WORKER_PORTS)


def write_token(path: Path) -> Path:
    """A fresh random token in ``path``, readable and writable by this user only (mode 0600, folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path


class RayHead:
    """A local Ray head started by this process: ``spawn`` it, ``wait_ready``, read ``address`` and ``env``, ``stop`` it.

    Args:
        folder: where the token file lives (``ray-token``), e.g. ``$VIGIL_HOME/serve``.
        num_cpus: the head's logical CPUs.
    """

    def __init__(self, folder: Path, num_cpus: int) -> None:
        self.folder, self.num_cpus = folder, num_cpus
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._temp: Path | None = None
        self._reaper: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """The GCS address drivers join (``VIGIL_RAY_ADDRESS``)."""
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What a driver needs in its environment to join: token authentication and the token's file."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.folder / "ray-token")}

    def spawn(self) -> RayHead:
        """Start the head without waiting for it (call :meth:`wait_ready` before joining)."""
        write_token(self.folder / "ray-token")
        self._temp = Path(tempfile.mkdtemp(prefix="vray", dir="/tmp"))
        command = [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={self.port}", f"--num-cpus={self.num_cpus}",
                   "--include-dashboard=false", f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
                   f"--temp-dir={self._temp}", "--disable-usage-stats", "--block"]
        log = (self.folder / "ray-head.log").open("ab")
        dies_with_us = parent_death_signal() if main_thread_on_linux() else None
        self.process = subprocess.Popen(command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=dies_with_us)
        log.close()
        self._reaper = start_reaper([self.process.pid])  # what `ray start` spawns dies with us too (see workers.reaper)
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> RayHead:
        """Block until the GCS accepts connections and the raylet's socket exists; raise if the head died or never did."""
        deadline = time.monotonic() + timeout_s
        raylet = self._temp / "session_latest" / "sockets" / "raylet" if self._temp else None
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise VigilError(f"ray head: expected it running, got exit status {code}; see {self.folder / 'ray-head.log'}")
            if connect_error("127.0.0.1", self.port) is None and raylet is not None and raylet.exists():
                return self
            time.sleep(0.2)
        self.stop()
        raise VigilError(f"ray head on port {self.port}: expected it ready within {timeout_s:.0f} s, got no answer; see {self.folder / 'ray-head.log'}")

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM ``ray start`` (it stops its own processes: ~4 s), SIGKILL its process group, then let the reaper take any straggler.

        Only ``ray start`` gets the SIGTERM: sent to the whole group, it outlived 15 s here.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # what is left of the group: gcs_server, raylet, workers
            except ProcessLookupError:
                pass
            self.process.wait(5)
        if self._reaper is not None and self._reaper.stdin is not None:
            self._reaper.stdin.close()  # EOF: it kills what it recorded that is still alive, then exits
            self._reaper.wait(10)
            self._reaper = None
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None
        (self.folder / "ray-token").unlink(missing_ok=True)

