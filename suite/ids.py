"""The one check every run id passes before it names a folder, a file or an index row.

A run id becomes a folder under ``$VIGIL_HOME/runs`` and ``staging``, a file
name in the results dataset and a key in the index, so it must be one plain
path segment: 1 to 120 ASCII letters, digits, ``_``, ``.`` or ``-``, not
starting with ``.`` or ``-`` and without ``..``. Every place a run id enters
Vigil (the CLI's options and arguments, the flows' parameters, the store's
path builders) calls :func:`check_run_id`.

Example:
    >>> check_run_id("digits-20260101T020000-ab12cd")
    'digits-20260101T020000-ab12cd'
    >>> check_run_id("../../x")
    Traceback (most recent call last):
    ...
    suite.errors.VigilError: run id: expected 1-120 letters, digits, '_', '.' or '-' (not starting with '.' or '-', no '..'), got '../../x'
"""

from __future__ import annotations

import re

from suite.errors import VigilError

MAX_RUN_ID_LENGTH = 120
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,%d}" % (MAX_RUN_ID_LENGTH - 1))
EXPECTED = f"1-{MAX_RUN_ID_LENGTH} letters, digits, '_', '.' or '-' (not starting with '.' or '-', no '..')"


def is_run_id(value: object) -> bool:
    """True when ``value`` is a string :func:`check_run_id` accepts."""
    return isinstance(value, str) and RUN_ID_PATTERN.fullmatch(value) is not None and ".." not in value


def check_run_id(value: object, where: str = "run id") -> str:
    """``value`` when it is a valid run id, else a :class:`VigilError` naming ``where``.

    Args:
        value: The candidate run id (anything: it is checked, not trusted).
        where: What to call it in the message, e.g. ``--run-id`` or ``run id``.

    Raises:
        VigilError: one line; the value is shown escaped and cut to 80 characters.
    """
    if not is_run_id(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else repr(value[:80]) + "…"
        raise VigilError(f"{where}: expected {EXPECTED}, got {shown}")
    return value  # type: ignore[return-value]
