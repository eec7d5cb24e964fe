"""A real ``vigil serve`` for the benches: started in its own VIGIL_HOME, waited for until its warm spare is ready.

A ``vigil run`` with the same ``VIGIL_HOME`` is handed to serve's spare (:mod:`cli.forward`,
:mod:`cli.warm`), so the process that drives the run is the spare, not the ``vigil`` the bench
started: :meth:`ServedVigil.ready_spare` names it, to watch its memory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from suite.processes import free_port

ROOT = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ServedVigil:
    """``vigil serve suites…`` as a child process group; a context manager that stops it by PID.

    Args:
        suites: Suite files to serve (their deployments are registered; the bench never triggers them).
        env: The environment of serve and of the runs handed to it (its ``VIGIL_HOME`` names serve's home).
        log: Where serve's own output goes.
        tree: The source tree whose ``vigil`` serves (a baseline checkout for ``bench/startup.py --tree``).
    """

    def __init__(self, suites: list[Path], env: dict[str, str], log: Path, tree: Path = ROOT) -> None:
        self.suites, self.env, self.log, self.tree = suites, env, log, tree
        self.home = Path(env["VIGIL_HOME"])
        self.process: subprocess.Popen[bytes] | None = None
        self.started_s = 0.0

    @property
    def info(self) -> dict[str, object]:
        """What ``serve.json`` says: pid, socket, api_url, ray_address, index_url."""
        return json.loads((self.home / "serve" / "serve.json").read_text())

    def ready_spare(self, timeout_s: float = 120.0) -> int:
        """The pid of the spare that will take the next run, once it is ready (from ``serve/spare.log``)."""
        deadline = time.monotonic() + timeout_s
        log = self.home / "serve" / "spare.log"
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, f"vigil serve exited; see {self.log}"
            text = log.read_text() if log.is_file() else ""
            taken = set(re.findall(r"spare (\d+) took a run", text))
            ready = [int(pid) for pid in re.findall(r"spare (\d+) ready", text) if pid not in taken and _alive(int(pid))]
            if ready and (self.home / "serve" / "serve.json").is_file():
                return ready[-1]
            time.sleep(0.2)
        raise RuntimeError(f"vigil serve: no spare ready within {timeout_s:.0f} s; see {self.log} and {log}")

    def __enter__(self) -> ServedVigil:
        began = time.perf_counter()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", *map(str, self.suites), "--port", str(free_port())],
                                            cwd=self.tree, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.ready_spare()
        self.started_s = time.perf_counter() - began
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
