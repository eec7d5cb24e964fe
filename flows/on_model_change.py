"""The ``on-model-change`` flow: evaluate a new model version against the production baseline.

Started by the deployment's trigger on a ``vigil.model.updated`` event (the
event's payload becomes the parameters). The same change always gets the same
run id, so a duplicate event finds the run recorded and evaluates nothing.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, tags, task
from prefect.runtime import flow_run

from flows.evaluate import evaluate_suite
from pipeline.triggers.derive import ModelUpdate, derive_suite, file_sha256, triggered_run_id
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import load_settings


def none_if_missing(value: str | None) -> str | None:
    """An event-template parameter, or None (a missing payload field renders as "None" or "")."""
    return None if value in (None, "", "None", "null") else value


@task(name="plan-model-change")
def plan_model_change(suite_path: str, update: ModelUpdate) -> dict[str, str | None]:
    """The run id of this change, its derived suite, and the verdict if it was already evaluated."""
    settings = load_settings()
    suite = load_suite(suite_path)
    run_id = triggered_run_id(suite.name, update)
    done = ResultStore(settings).get_run(run_id)
    if done is not None and done.status == "completed":
        return {"run_id": run_id, "suite": None, "verdict": done.verdict}
    fields = {k: v for k, v in {"version": update.version, "path": update.path, "sha256": update.sha256}.items() if v is not None}
    target = settings.home / "triggered" / run_id / Path(suite_path).name
    return {"run_id": run_id, "suite": str(derive_suite(suite_path, target, models={update.model: fields})), "verdict": None}


def _run_name() -> str:
    p = flow_run.parameters
    return f"{Path(str(p['suite_path'])).stem} · {p['model']}@{p['version']}"


@flow(name="on-model-change", flow_run_name=_run_name, log_prints=True)
def on_model_change(
    suite_path: str, model: str, version: str, path: str | None = None, sha256: str | None = None,
    event_id: str | None = None, ray_address: str | None = None,
) -> dict[str, object]:
    """Gate ``model`` at ``version`` against the suite's baseline; a repeated change is not re-run."""
    path, sha256 = none_if_missing(path), none_if_missing(sha256)
    if path and not sha256:
        sha256 = file_sha256(Path(path))
    update = ModelUpdate(model=model, version=version, path=path, sha256=sha256)
    planned = plan_model_change(suite_path, update)
    if planned["suite"] is None:
        print(f"{update.model}@{update.version} was already evaluated as run {planned['run_id']}: {planned['verdict']}")
        return {"run_id": planned["run_id"], "verdict": planned["verdict"], "duplicate": True}
    with tags(f"model:{model}", f"version:{version}"):
        outcome = evaluate_suite(suite_path=str(planned["suite"]), run_id=planned["run_id"], ray_address=ray_address, trigger=f"model-change:{model}@{version}")
    return {**outcome, "duplicate": False, "event_id": none_if_missing(event_id)}
