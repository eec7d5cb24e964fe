"""The ``shadow-replay`` flow: prepare → infer the candidate over a request log → compare → persist → publish.

Each task is one stage of :mod:`pipeline.shadow.replay`; tasks pass the small replay
plan and file paths, never frames. The candidate runs on warm Ray actors inside
``infer`` (a cluster by address when configured, else a local Ray).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event
from prefect.runtime import flow_run

from flows.publish import artifact_key
from flows.retries import worth_retrying
from pipeline.shadow.replay import ReplayPlan, Window, compare_replay, infer_replay, persist_replay, prepare_replay
from storage.store import ResultStore
from suite.settings import Settings, load_settings


@task(name="prepare")
def prepare(suite_path: str, log_path: str, labels_path: str | None, window: Window | None, run_id: str | None, batch_rows: int,
            settings: Settings, from_mirror: bool = False) -> ReplayPlan:
    return prepare_replay(suite_path, log_path, settings, labels_path=labels_path, window=window, run_id=run_id, batch_rows=batch_rows, from_mirror=from_mirror)


@task(name="infer", task_run_name="infer {plan.model.name} · {plan.log_name}", retries=1, retry_delay_seconds=2, retry_condition_fn=worth_retrying)
def infer(plan: ReplayPlan, settings: Settings) -> str:
    return infer_replay(plan, settings)


@task(name="compare")
def compare(plan: ReplayPlan, settings: Settings) -> str:
    return compare_replay(plan, settings)


@task(name="persist", retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying)
def persist(plan: ReplayPlan, settings: Settings) -> str:
    return persist_replay(plan, settings)


@task(name="publish")
def publish(plan: ReplayPlan, settings: Settings) -> None:
    run = ResultStore(settings).get_run(plan.run_id)
    report = next((a for a in run.artifacts if a.kind == "shadow_report"), None) if run else None
    markdown = Path(report.uri.removeprefix("file://")).read_text() if report else ""
    create_markdown_artifact(key=artifact_key(plan.suite_name, "shadow"), markdown=markdown, description=f"Shadow replay of {plan.model.name}")
    results = ResultStore(settings).run_results(plan.run_id)
    overall = results[(results["variant"] == "shadow") & (results["slice"] == "all")][["metric", "value", "ci_low", "ci_high", "n"]]
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in overall.to_dict("records")]
    create_table_artifact(key=artifact_key(plan.suite_name, "shadow-metrics"), table=rows, description=f"Shadow metrics of run {plan.run_id}")
    resource = {"prefect.resource.id": f"vigil.suite.{plan.suite_name}", "prefect.resource.name": plan.suite_name}
    emit_event(event="vigil.shadow.completed", resource=resource, payload={"run_id": plan.run_id, **plan.counts})


def _run_name() -> str:
    params = flow_run.parameters
    return f"{Path(str(params['suite_path'])).parent.name} · shadow {Path(str(params['log_path'])).name}"


@flow(name="shadow-replay", flow_run_name=_run_name, log_prints=True)
def shadow_replay(
    suite_path: str,
    log_path: str,
    labels_path: str | None = None,
    window: Window | None = None,
    run_id: str | None = None,
    ray_address: str | None = None,
    batch_rows: int = 1,
    from_mirror: bool = False,
) -> dict[str, object]:
    """Replay a request log through the suite's candidate (or, ``from_mirror``, use the answers it logged) and record how it compares with production."""
    from pipeline.commit import discard_run

    settings = load_settings(ray_address)
    plan = prepare(suite_path, log_path, labels_path, window, run_id, batch_rows, settings, from_mirror)
    try:
        infer(plan, settings)
        compare(plan, settings)
        persist(plan, settings)
    except BaseException:
        discard_run(plan.run_id, settings)
        raise
    publish(plan, settings)
    results = ResultStore(settings).run_results(plan.run_id)
    overall = results[(results["variant"] == "shadow") & (results["slice"] == "all")].set_index("metric")["value"]
    return {"run_id": plan.run_id, "agreement_rate": float(overall["agreement_rate"]), "flip_rate": float(overall["flip_rate"]), **plan.counts}
