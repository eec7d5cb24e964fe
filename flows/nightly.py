"""The ``nightly`` flow: evaluate one suite on its schedule.

The run id is the suite name plus the scheduled date, so a retried or
re-triggered nightly run replaces that night's results instead of adding a copy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.evaluate import evaluate_suite
from suite.load import load_suite


def nightly_run_id(suite_name: str, scheduled: datetime) -> str:
    """``<suite>-nightly-<YYYYMMDD>`` of the scheduled (not actual) start, in UTC."""
    return f"{suite_name}-nightly-{scheduled.astimezone(UTC):%Y%m%d}"


def _run_name() -> str:
    path = Path(str(flow_run.parameters["suite_path"]))
    return f"{path.parent.name}/{path.stem} · nightly"


@flow(name="nightly", flow_run_name=_run_name, log_prints=True)
def nightly(suite_path: str, ray_address: str | None = None) -> dict[str, str]:
    """Evaluate the suite at ``suite_path`` as tonight's run."""
    scheduled = flow_run.scheduled_start_time or datetime.now(UTC)
    run_id = nightly_run_id(load_suite(suite_path).name, scheduled)
    return evaluate_suite(suite_path=suite_path, run_id=run_id, ray_address=ray_address, trigger="nightly")
