"""SIGTERM for a long-running command (``vigil serve``): exit cleanly, even when the first try is swallowed.

A signal handler that raises ``SystemExit`` raises it in the main thread wherever that
thread happens to be. When that is a finaliser (``__del__``, run by the garbage collector)
Python prints "Exception ignored in ..." and goes on: once on a loaded CI machine ``vigil
serve`` got SIGTERM while an asyncio transport was being collected, printed exactly
that, and kept serving. :class:`StopOnTerm` raises ``SystemExit(0)`` and, until the
command has begun its cleanup (:meth:`StopOnTerm.cleaning`), raises it again every
``retry_s`` seconds by sending itself the signal; SIGTERMs during the cleanup are ignored,
so the cleanup is never cut short.

Example (a process whose first SystemExit is swallowed still exits, and cleans up once)::

    stop = StopOnTerm(retry_s=0.5).install()
    try:
        serve_forever()
    finally:
        stop.cleaning()
        clean_up()
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from typing import Any


class StopOnTerm:
    """A SIGTERM handler that raises ``SystemExit(0)`` until the command's cleanup has begun."""

    def __init__(self, retry_s: float = 2.0) -> None:
        self.retry_s = retry_s
        self._cleaning = threading.Event()
        self._retrying: threading.Thread | None = None

    def install(self) -> StopOnTerm:
        """Handle SIGTERM from now on (call from the main thread); exit handlers count as cleanup too."""
        signal.signal(signal.SIGTERM, self._handle)
        atexit.register(self.cleaning)
        return self

    def cleaning(self) -> None:
        """The command is cleaning up: further SIGTERMs are ignored and none is sent again."""
        self._cleaning.set()

    def _handle(self, signum: int, frame: Any) -> None:
        if self._cleaning.is_set():
            return
        if self._retrying is None:  # in case this SystemExit lands in a finaliser and is swallowed
            self._retrying = threading.Thread(target=self._retry, name="vigil-sigterm-retry", daemon=True)
            self._retrying.start()
        raise SystemExit(0)

    def _retry(self) -> None:
        while not self._cleaning.wait(self.retry_s):
            os.kill(os.getpid(), signal.SIGTERM)
