"""When a failed Prefect task is worth another try: not when the suite's input was at fault, nor after a wait that ran out.

A malformed spec, a pin that does not match or a bad data file fails the same way
every time, so retrying it only delays the one-line error (a missing snapshot id
used to wait 16 s of back-off). A cluster that did not place the actors within
``workers.start_timeout_s`` has already been waited for: retrying would multiply the
wait the user set (4 × 300 s by default) without saying so; so would a shard whose
actor was stuck past ``workers.shard_timeout_s`` on every try. Lost workers, a model
that crashed an actor or a full disk may pass next time, and keep their retries.
"""

from __future__ import annotations

from typing import Any

from suite.errors import ChecksumError, DataError, PlacementTimeout, ShardTimeout, SpecError

FINAL = (SpecError, ChecksumError, DataError, PlacementTimeout, ShardTimeout)


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry unless the failure (``state.data``, the exception) is :data:`FINAL`."""
    return not isinstance(state.data, FINAL)
