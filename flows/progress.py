"""What a run shows on its Prefect page while it runs: a progress artifact, and its stages in the flow run's log."""

from __future__ import annotations

import logging
import time
from collections import Counter

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from pipeline.evaluate.decide import Decision
from pipeline.evaluate.plan import RunPlan


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
    from prefect.logging.handlers import PrefectConsoleHandler

    for logger in [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)


class FlowLog:
    """Writes a run's stages, counts and verdict to the parent flow run's log (the Logs tab of its Prefect page).

    Also a progress reporter (:mod:`pipeline.progress`): it logs each stage's start,
    every quarter and its end, so the log shows inference and scoring moving
    without a line per item; a stage that stays within one quarter for
    :attr:`QUIET_S` logs its latest note (what it is doing or waiting for).
    The logger is taken in the flow, so lines sent from task threads still
    land on the flow run.
    """

    QUIET_S = 30.0

    def __init__(self) -> None:
        self.log = get_run_logger()
        self._quarters: dict[str, int] = {}
        self._said: dict[str, float] = {}  # stage -> when its last line was logged
        self._clock = time.monotonic

    def update(self, stage: str, done: int, total: int, note: str = "") -> None:
        quarter, now = 4 * done // max(total, 1), self._clock()
        if self._quarters.get(stage) == quarter:
            if note and now - self._said.get(stage, now) >= self.QUIET_S:  # a stage that stays put says why (e.g. waiting for the cluster)
                self._said[stage] = now
                self.log.info("%s: %d/%d, %s", stage, done, total, note)
            return
        self._quarters[stage], self._said[stage] = quarter, now
        self.log.info("%s: %d/%d done%s", stage, done, total, f" (last: {note})" if note else "")

    def planned(self, plan: RunPlan) -> None:
        """The run's size: models × datasets × variants."""
        self.log.info("run %s of suite %s (trigger %s): %d models × %d datasets × %d variants = %d inference items",
                      plan.run_id, plan.suite_name, plan.trigger, len(plan.models), len(plan.datasets), len(plan.variants),
                      len(plan.work_items()))

    def stage(self, name: str, detail: object) -> None:
        """One finished stage and what it produced."""
        self.log.info("%s: %s", name, detail)

    def decided(self, decision: Decision) -> None:
        """The verdict, the gate tally and the failed gates."""
        counts = Counter(o.status for o in decision.outcomes)
        tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no gates"
        failed = decision.failed_gates()
        self.log.log(logging.WARNING if decision.verdict != "pass" else logging.INFO, "verdict %s (%s)%s",
                     decision.verdict.upper(), tally, f"; failed: {', '.join(failed)}" if failed else "")
