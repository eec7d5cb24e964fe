"""How a ``vigil`` process ends: as Python's own exit would, less the interpreter's teardown.

After a command, Python waits for the process's non-daemon threads, runs the exit
handlers (Prefect's log and event drains, Ray's shutdown, stopping the temporary
server, logging's flush), and then tears the interpreter down: it frees every
module and object one by one. With Prefect, pandas, SciPy and Ray loaded that
last step alone took ~0.9 s of CPU after a run had printed its verdict (issue 18),
and it writes nothing: every file Vigil writes is closed where it is written.
:func:`leave` does the first two steps, flushes the standard streams, and ends
the process with the command's exit status.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_status(code: object) -> int:
    """The process status ``sys.exit(code)`` gives: None is 0, an int itself, anything else (a message) 1.

    Example:
        >>> [exit_status(c) for c in (None, 0, 2, "bad input")]
        [0, 0, 2, 1]
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1


def leave(code: object) -> NoReturn:
    """End this process as ``sys.exit(code)`` would, skipping the interpreter's teardown.

    A message (``code`` neither None nor an int) is printed on stderr, as Python
    prints it. As in Python's own exit, the threading module's exit hooks run
    first (thread pools let their workers go), then the non-daemon threads are
    waited for, then the exit handlers run, last registered first. Call it from
    the main thread.
    """
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
    threading._shutdown()  # type: ignore[attr-defined]  # what Python's exit does first: its own thread exit hooks (executors), then joins
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``vigil runs | head``) or stream
            pass
    os._exit(exit_status(code) & 0xFF)
