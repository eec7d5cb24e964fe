"""Child processes that die with their parent, even when it is killed with ``kill -9`` (Linux ``PR_SET_PDEATHSIG``), and their ports.

Used by every long-lived child Vigil starts: Prefect's servers (:mod:`flows.server`),
``vigil serve``'s Ray head (:mod:`workers.head`) and its warm spares (:mod:`cli.warm`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Container

_PR_SET_PDEATHSIG = 1


def parent_death_signal() -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to SIGKILL the child when the thread that created it ends.

    Everything is looked up before the fork: the child only calls ``prctl``
    and checks that the parent did not die before the request took effect.
    The signal fires when the creating *thread* ends, not the process: create
    such children from the main thread, or from a thread that lives as long as
    the process (see :func:`dies_with_this_thread`).
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def main_thread_on_linux() -> bool:
    """Where :func:`parent_death_signal` ties a child to the process: Linux, from the main thread."""
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def dies_with_this_thread() -> Callable[[], None] | None:
    """:func:`parent_death_signal` on Linux (the child dies when the calling thread ends), else None."""
    return parent_death_signal() if sys.platform.startswith("linux") else None


def free_port(avoid: Container[int] = ()) -> int:
    """A loopback TCP port nobody listens on now, outside ``avoid`` (e.g. Ray's worker port range).

    Example:
        >>> 0 < free_port(avoid=range(10002, 20000)) < 65536
        True
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def connect_error(host: str, port: int, timeout_s: float = 1.0) -> OSError | None:
    """Why a TCP connection to ``host:port`` fails now (within ``timeout_s``), or None when something accepts it.

    Example:
        >>> connect_error("127.0.0.1", free_port()).strerror
        'Connection refused'
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc
