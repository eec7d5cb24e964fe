"""A progress reporter that keeps a Prefect progress artifact up to date during a run."""

from __future__ import annotations

import time

from prefect.artifacts import create_progress_artifact, update_progress_artifact


class PrefectProgress:
    """Shows a run's inference and scoring progress on its Prefect flow-run page.

    Inference counts for 80% of the bar and scoring for 20%; updates are sent at
    most twice a second so a fast run does not flood the API.
    """

    _WEIGHTS = {"infer": (0.0, 80.0), "score": (80.0, 20.0)}

    def __init__(self, run_id: str) -> None:
        self._id = create_progress_artifact(progress=0.0, description=f"Vigil run {run_id}")
        self._sent = 0.0

    def update(self, stage: str, done: int, total: int, note: str = "") -> None:
        start, span = self._WEIGHTS.get(stage, (0.0, 100.0))
        value = start + span * (done / max(total, 1))
        now = time.monotonic()
        if now - self._sent >= 0.5 or done >= total:
            update_progress_artifact(self._id, progress=min(value, 100.0))
            self._sent = now


def mute_console_logs() -> None:
    """Keep Prefect's console logs (task tracebacks) off the terminal; they still reach the Prefect API."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)
