"""The ``nightly`` flow: evaluate one suite on its schedule.

The run id is the suite name plus the scheduled date. A retry of the same flow
run (Prefect's ``run_count`` > 1) reuses its id, so a run that failed half-way
is replaced, not copied. A second flow run the same day (a manual re-trigger)
no longer replaces the scheduled run silently: it is kept beside it as
``<suite>-nightly-<YYYYMMDD>-2`` (``-3``, …), and the flow log and the verdict
artifact say which attempt it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.evaluate import evaluate_suite
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import load_settings


def nightly_run_id(suite_name: str, scheduled: datetime, committed: Callable[[str], bool] = lambda _: False,
                   retry: bool = False) -> str:
    """``<suite>-nightly-<YYYYMMDD>`` of the scheduled (not actual) start, in UTC, with ``-<n>`` from the second attempt.

    Args:
        suite_name: The suite's name.
        scheduled: The flow run's scheduled start.
        committed: Whether a completed run holds an id already.
        retry: A retry of the same flow run: reuse the latest attempt's id (idempotent).

    Example:
        >>> day = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
        >>> nightly_run_id("digits", day)
        'digits-nightly-20261126'
        >>> done = {"digits-nightly-20261126"}
        >>> nightly_run_id("digits", day, done.__contains__), nightly_run_id("digits", day, done.__contains__, retry=True)
        ('digits-nightly-20261126-2', 'digits-nightly-20261126')
    """
    base = f"{suite_name}-nightly-{scheduled.astimezone(UTC):%Y%m%d}"
    attempt = 1
    while committed(_attempt_id(base, attempt)):
        attempt += 1
    return _attempt_id(base, max(attempt - 1, 1) if retry else attempt)


def _attempt_id(base: str, attempt: int) -> str:
    return base if attempt == 1 else f"{base}-{attempt}"


def _run_name() -> str:
    path = Path(str(flow_run.parameters["suite_path"]))
    return f"{path.parent.name}/{path.stem} · nightly"


@flow(name="nightly", flow_run_name=_run_name, log_prints=True)
def nightly(suite_path: str, ray_address: str | None = None) -> dict[str, str]:
    """Evaluate the suite at ``suite_path`` as tonight's run (a same-day re-trigger as a further attempt)."""
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    store = ResultStore(load_settings(ray_address))

    def completed(run_id: str) -> bool:
        run = store.get_run(run_id)
        return run is not None and run.status == "completed"

    name = load_suite(suite_path).name
    run_id = nightly_run_id(name, scheduled, completed, retry=(flow_run.run_count or 1) > 1)
    first = nightly_run_id(name, scheduled)
    trigger = "nightly"
    if run_id != first:
        earlier = store.get_run(first)
        trigger = f"nightly (attempt {run_id.rsplit('-', 1)[1]})"
        get_run_logger().warning("tonight's run %s is already committed (verdict %s); this re-trigger is kept beside it as %s",
                                 first, earlier.verdict if earlier else "?", run_id)
    return evaluate_suite(suite_path=suite_path, run_id=run_id, ray_address=ray_address, trigger=trigger)
