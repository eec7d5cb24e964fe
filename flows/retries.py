"""When a failed Prefect task is worth another try: not when the suite's input was at fault.

A malformed spec, a pin that does not match or a bad data file fails the same way
every time, so retrying it only delays the one-line error (a missing snapshot id
used to wait 16 s of back-off). Lost workers, a busy cluster or a full disk may
pass next time, and keep their retries.
"""

from __future__ import annotations

from typing import Any

from suite.errors import ChecksumError, DataError, SpecError

BAD_INPUT = (SpecError, ChecksumError, DataError)


def unless_bad_input(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry unless the failure (``state.data``, the exception) is a fault of the input."""
    return not isinstance(state.data, BAD_INPUT)
