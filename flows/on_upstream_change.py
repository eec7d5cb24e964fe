"""The ``on-upstream-change`` flow: re-validate a suite when one of its upstream modules changes, and attribute the change.

Started by the deployment's trigger on a ``vigil.upstream.updated`` event (the
event's payload becomes the parameters). The run evaluates the suite with the new
module file, gates it against the baseline as usual, and rolls only that module
back to the version it replaced (``ablation@<module>``), so the run's
``upstream.parquet`` holds the downstream change attributed to it with a CI. The
same new file always gets the same run id, so a duplicate event evaluates nothing.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, tags, task
from prefect.runtime import flow_run

from flows.evaluate import evaluate_suite
from flows.on_model_change import none_if_missing
from pipeline.triggers.upstream_changes import UpstreamUpdate, derive_upstream_suite, pin_update, triggered_upstream_run_id
from storage.archive import ModuleArchive
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import load_settings


@task(name="plan-upstream-change")
def plan_upstream_change(suite_path: str, update: UpstreamUpdate) -> dict[str, object]:
    """The pinned update, its run id, its derived suite (None when already evaluated) and whether it has a previous version."""
    settings = load_settings()
    suite = load_suite(suite_path)
    archive = ModuleArchive(settings.home / "upstream")
    pinned = pin_update(suite, update, archive)
    run_id = triggered_upstream_run_id(suite.name, pinned)
    done = ResultStore(settings).get_run(run_id)
    if done is not None and done.status == "completed":
        return {"update": pinned, "run_id": run_id, "suite": None, "verdict": done.verdict, "suite_name": suite.name}
    target = settings.home / "triggered" / run_id / Path(suite_path).name
    derived, has_previous = derive_upstream_suite(suite_path, suite, pinned, archive, target)
    return {"update": pinned, "run_id": run_id, "suite": str(derived), "has_previous": has_previous, "suite_name": suite.name}


def _run_name() -> str:
    p = flow_run.parameters
    return f"{Path(str(p['suite_path'])).stem} · upstream {p['module']}@{p['version']}"


@flow(name="on-upstream-change", flow_run_name=_run_name, log_prints=True)
def on_upstream_change(
    suite_path: str, module: str, version: str, field: str | None = None, path: str | None = None, sha256: str | None = None,
    previous_sha256: str | None = None, event_id: str | None = None, ray_address: str | None = None,
) -> dict[str, object]:
    """Evaluate the suite with ``module`` at ``version`` and attribute the change to it; a repeated change is not re-run."""
    update = UpstreamUpdate(module=module, version=version, field=none_if_missing(field), path=none_if_missing(path),  # type: ignore[arg-type]
                            sha256=none_if_missing(sha256), previous_sha256=none_if_missing(previous_sha256))
    planned = plan_upstream_change(suite_path, update)
    pinned: UpstreamUpdate = planned["update"]  # type: ignore[assignment]
    if planned["suite"] is None:
        print(f"upstream {module}@{version} was already evaluated as run {planned['run_id']}: {planned['verdict']}")
        return {"run_id": planned["run_id"], "verdict": planned["verdict"], "duplicate": True}
    if not planned["has_previous"]:
        print(f"upstream {module}: no earlier version is known, so this run re-validates downstream without an ablation")
    with tags(f"upstream:{module}", f"version:{version}"):
        outcome = evaluate_suite(suite_path=str(planned["suite"]), run_id=str(planned["run_id"]), ray_address=ray_address,
                                 trigger=f"upstream-change:{module}@{version}")
    field, _, sha256 = pinned.pinned()
    ModuleArchive(load_settings().home / "upstream").record(str(planned["suite_name"]), module, field, sha256)
    return {**outcome, "duplicate": False, "event_id": none_if_missing(event_id)}
