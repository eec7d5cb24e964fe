"""SIGTERM for a long-running command (``vigil serve``): exit cleanly, even when the first exit is swallowed.

A signal handler that raises ``SystemExit`` raises it in the main thread wherever that
thread happens to be. When that is a finaliser (``__del__``, a weakref callback), Python
prints "Exception ignored in ..." and goes on: on a loaded CI machine ``vigil serve`` got
SIGTERM while an asyncio transport was being collected, printed exactly that, and kept
serving. :class:`StopOnTerm` raises ``SystemExit(0)`` on SIGTERM and watches for that one
case (``sys.unraisablehook``): a ``SystemExit`` lost in a finaliser before the command's
cleanup has begun is signalled again, so it is raised once more where it can propagate
(to whichever SIGTERM handler is installed then: Prefect's runner installs its own, which
stops it gracefully). Nothing is sent again unless an exit was lost, so a cleanup is never
cut short; SIGTERMs during the cleanup (:meth:`StopOnTerm.cleaning`) are ignored.

Example::

    stop = StopOnTerm().install()
    try:
        serve_forever()
    finally:
        stop.cleaning()
        clean_up()
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from typing import Any

_RESEND_AFTER_S = 0.01


class StopOnTerm:
    """A SIGTERM handler raising ``SystemExit(0)``, which raises it again when a finaliser swallowed it."""

    def __init__(self) -> None:
        self._cleaning = threading.Event()
        self._previous_hook = sys.unraisablehook
        self.resent = 0  # exits lost in a finaliser and signalled again

    def install(self) -> StopOnTerm:
        """Handle SIGTERM from now on (call from the main thread); exit handlers count as cleanup too."""
        signal.signal(signal.SIGTERM, self._handle)
        self._previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        atexit.register(self.cleaning)
        return self

    def cleaning(self) -> None:
        """The command is cleaning up: further SIGTERMs are ignored and a lost exit is not signalled again."""
        self._cleaning.set()

    def _handle(self, signum: int, frame: Any) -> None:
        if not self._cleaning.is_set():
            raise SystemExit(0)

    def _unraisable(self, unraisable: Any) -> None:
        self._previous_hook(unraisable)  # still printed: "Exception ignored in ..."
        lost = unraisable.exc_type is not None and issubclass(unraisable.exc_type, SystemExit)
        if lost and not self._cleaning.is_set() and not sys.is_finalizing():
            self.resent += 1
            # From another thread, a moment later: raised here (signal.raise_signal, os.kill, _thread.interrupt_main all run
            # the handler before this hook returns), its SystemExit would be swallowed again. Sent to the main thread, so a
            # blocking call there is interrupted as by the first one.
            resend = threading.Timer(_RESEND_AFTER_S, signal.pthread_kill, (threading.main_thread().ident, signal.SIGTERM))
            resend.daemon = True
            resend.start()
