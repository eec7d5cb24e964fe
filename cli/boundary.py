"""The CLI's one error boundary: every failure becomes one line on stderr and exit 2.

Exit codes: 0 ok, 1 only "a gate failed" (a command raises ``typer.Exit(1)``
itself), 2 bad input or any error, 130 interrupted. A :class:`VigilError` prints
``error: <its message>``; any other exception (an ``OSError`` such as a full
disk, a ``RecursionError``, a ``MemoryError``, a bug) prints ``error: <type>:
<message> (rerun with --verbose for the traceback)``. With the global
``vigil --verbose`` (or a command's own ``--verbose``) the traceback follows on
stderr. ``typer.Exit``, ``SystemExit`` and click's usage errors (exit 2) pass
through untouched.

Example:
    >>> one_line(ValueError("bad\\n  value"), verbose=False)
    'error: ValueError: bad value (rerun with --verbose for the traceback)'
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from suite.errors import VigilError

EXIT_ERROR = 2
_MAX_MESSAGE = 400
_PASS_THROUGH = (Exit, Abort, TyperException)  # typer.Exit, and click's usage errors (exit 2) as Typer vendors them


class _State:
    verbose = False


def _flat(text: str) -> str:
    """``text`` on one line, cut to a readable length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"


def one_line(exc: BaseException, *, verbose: bool) -> str:
    """The single line the user sees for ``exc``."""
    if isinstance(exc, VigilError):
        return f"error: {_flat(str(exc))}"
    cause = getattr(exc, "cause", None)  # a worker's error (Ray's RayTaskError) carries the original as .cause
    if isinstance(cause, BaseException) and cause is not exc:
        return one_line(cause, verbose=verbose).replace("error: ", "error: in a worker: ", 1)
    message = _flat(str(exc))
    if isinstance(exc, OSError) and exc.strerror:
        target = f" {exc.filename}" if exc.filename else ""
        message = _flat(f"[Errno {exc.errno}] {exc.strerror}:{target}") if target else _flat(f"[Errno {exc.errno}] {exc.strerror}")
    hint = "" if verbose else " (rerun with --verbose for the traceback)"
    return f"error: {type(exc).__name__}: {message or 'no message'}{hint}"


def report(exc: BaseException, *, verbose: bool) -> None:
    """Print ``exc`` as one line on stderr (the traceback first with ``verbose``), never raising."""
    try:
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.write(one_line(exc, verbose=verbose) + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - stderr itself is broken: the exit code still tells
        pass


def set_verbose(verbose: bool, *, reset: bool = False) -> None:
    """Ask the boundary to print tracebacks.

    The global ``--verbose`` sets the flag for each invocation (``reset=True``);
    a command's own ``--verbose`` can only turn it on.
    """
    _State.verbose = bool(verbose) or (_State.verbose and not reset)


def is_verbose() -> bool:
    """True when a ``--verbose`` asked for tracebacks."""
    return _State.verbose


def _bare_flags(command: Any, ctx: Any) -> None:
    """Show on/off flags without a type beside them: typer labels each ``<bool>`` unless it has a metavar."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _bare_flags(sub, ctx)


class VigilGroup(TyperGroup):
    """The top-level group: commands (and sub-groups) run inside the error boundary, and flags show bare in --help."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's parameters, flags without a type label."""
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The sub-command ``cmd_name`` (and, for a sub-group, its commands), flags without a type label."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _bare_flags(command, ctx)
        return command

    def invoke(self, ctx: Any) -> Any:
        """Run the chosen command; turn any exception it raises into one line and exit 2."""
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: every error exits 2 with one line
            report(exc, verbose=is_verbose())
            raise Exit(EXIT_ERROR) from None
