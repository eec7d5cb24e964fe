"""The client half of warm runs (:mod:`cli.warm`): ``vigil run`` offers its command to a running ``vigil serve``.

Kept to the standard library (and :mod:`suite.settings`), so the check costs
milliseconds before the CLI imports anything heavy: :func:`cli.main.main` calls
:func:`forward` first. ``serve.json`` (:class:`ServeInfo`) says where serve is.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

NO_SERVE_ENV = "VIGIL_NO_SERVE"
"""``VIGIL_NO_SERVE=1``: ``vigil run`` never forwards, it runs in its own process."""

_REPLY_TIMEOUT_S = 30.0
"""How long a client waits for a spare to take its request before it runs locally (a spare may still be importing)."""


def serve_folder(home: Path) -> Path:
    """``$VIGIL_HOME/serve``: serve's info file, socket, Ray token and logs."""
    return home / "serve"


@dataclass(frozen=True)
class ServeInfo:
    """What ``serve.json`` says about a running ``vigil serve``."""

    pid: int
    socket: str
    api_url: str
    ray_address: str
    index_url: str

    @classmethod
    def read(cls, folder: Path) -> ServeInfo | None:
        """The info in ``folder``, or None when there is none (or it cannot be read)."""
        try:
            return cls(**json.loads((folder / "serve.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, folder: Path) -> None:
        """Write ``serve.json`` atomically, readable by this user only."""
        partial = folder / f".serve.json.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle)
        os.replace(partial, folder / "serve.json")

    def alive(self) -> bool:
        """Whether serve's process still exists."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def agrees(self, index_url: str, env: dict[str, str], ray_address: str | None) -> bool:
        """Whether a run with these settings may run in serve: the same index, and the same Prefect API and Ray where set."""
        api_url = env.get("PREFECT_API_URL") or None
        ray_address = ray_address or env.get("VIGIL_RAY_ADDRESS") or None
        return index_url == self.index_url and api_url in (None, self.api_url) and ray_address in (None, self.ray_address)


# ---- the client -------------------------------------------------------------------------------
def _command(argv: list[str]) -> str | None:
    """The sub-command of ``vigil ARGV`` (the first word that is not an option), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def _option(argv: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``argv``, or None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _terminal_fds() -> list[int]:
    """fds 0, 1, 2 to pass on (``/dev/null`` in place of one that is closed)."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def forward(argv: list[str]) -> int | None:
    """Run ``vigil ARGV`` in a spare of a live ``vigil serve`` when it may; returns its exit code, or None to run locally.

    Only ``vigil run`` is forwarded, and only when ``$VIGIL_HOME/serve`` names a
    live serve whose index, Prefect API and Ray agree with this process's
    settings (:meth:`ServeInfo.agrees`) and ``VIGIL_NO_SERVE`` is not ``1``.
    Anything that fails before a spare took the request (a stale file, a socket
    nobody accepts on) returns None: the run then happens here, as without serve.
    """
    if os.environ.get(NO_SERVE_ENV) == "1" or _command(argv) != "run" or {"--help", "--version"} & set(argv):
        return None
    from suite.settings import load_settings  # light: resolves VIGIL_HOME and the index URL as every command does

    settings = load_settings()
    info = ServeInfo.read(serve_folder(settings.home))
    if info is None or not info.alive() or not info.agrees(settings.index_url, dict(os.environ), _option(argv, "--ray-address")):
        return None
    from cli.startup import client_start_time

    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "started": client_start_time() or time.time()}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_REPLY_TIMEOUT_S)
        sock.connect(info.socket)
        socket.send_fds(sock, [b"V"], _terminal_fds())
        sock.sendall(json.dumps(request).encode() + b"\n")
        replies = sock.makefile("rb")
        first = replies.readline()
        pid = int(json.loads(first)["pid"]) if first else None
    except (OSError, ValueError, KeyError, TypeError):
        pid = None
    if pid is None:
        sock.close()
        return None
    return _wait_for_exit(sock, replies, pid)


def _wait_for_exit(sock: socket.socket, replies, pid: int) -> int:  # type: ignore[no-untyped-def]
    """Pass signals on to the spare ``pid`` until it sends the exit code (or goes away)."""
    received: list[int] = []

    def pass_on(signum: int, _frame: object) -> None:
        received.append(signum)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    sock.settimeout(None)
    while True:
        try:
            line = replies.readline()
        except InterruptedError:
            continue
        except OSError:
            line = b""
        if not line:
            break
        try:
            return int(json.loads(line)["exit"])
        except (ValueError, KeyError, TypeError):
            continue
    if received:
        return 128 + received[-1]
    sys.stderr.write(f"error: vigil serve's process running this command (pid {pid}) ended without an exit status; see its serve/spare.log\n")
    return 2
