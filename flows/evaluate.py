"""The ``evaluate-suite`` flow: prepare → infer (per model × dataset × variant) → score → drift → decide → analyse → report → persist → alert → publish.

Each task is a coarse stage calling one function of :mod:`pipeline`; tasks pass
the small run plan and URIs, never data frames. Inference runs on warm Ray
actors inside the ``infer`` task (Ray is reached by address when one is
configured, else started locally once per process), so Prefect's own task
runner stays the default thread pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.context import TaskRunContext
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from flows.alerts import alert_run
from flows.progress import PrefectProgress
from flows.publish import artifact_key, publish_run
from pipeline.analysis import analyse_run
from pipeline.decide import Decision, decide_run
from pipeline.drift import drift_stage
from pipeline.infer import infer_item, prediction_cache_key, release_model
from pipeline.persist import discard_run, persist_run
from pipeline.plan import RunPlan, WorkItem
from pipeline.prepare import prepare_run
from pipeline.progress import reporting
from pipeline.report import stage_report
from pipeline.score import score_run
from pipeline.upstream import ABLATION, attribution
from suite.load import load_suite
from suite.settings import Settings, load_settings


def _infer_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return prediction_cache_key(parameters["plan"], parameters["item"], parameters["settings"])


@task(name="prepare")
def prepare(suite_path: str, run_id: str | None, trigger: str) -> RunPlan:
    return prepare_run(suite_path, run_id=run_id, trigger=trigger)[0]


CLUSTER_TAG = "vigil-cluster"
"""Inference tasks carry this tag; a tag concurrency limit on it (``vigil serve``/``deploy`` set one) caps runs sharing the cluster."""


@task(name="infer", task_run_name="infer {item.model} · {item.dataset} · {item.variant}", cache_key_fn=_infer_cache_key, tags=[CLUSTER_TAG],
      retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5)
def infer(plan: RunPlan, item: WorkItem, settings: Settings) -> str:
    return infer_item(plan, item, settings)


@task(name="score")
def score(plan: RunPlan, settings: Settings) -> str:
    return score_run(plan, settings)


@task(name="decide")
def decide(plan: RunPlan, settings: Settings) -> Decision:
    return decide_run(plan, settings)


@task(name="analyse")
def analyse(plan: RunPlan, settings: Settings) -> list[str]:
    return analyse_run(plan, settings)


@task(name="drift")
def drift(plan: RunPlan, settings: Settings) -> str | None:
    return drift_stage(plan, settings)


@task(name="alert")
def alert(plan: RunPlan, settings: Settings) -> str:
    return alert_run(plan.run_id, settings)


@task(name="report")
def report(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    return stage_report(plan, decision, settings)


@task(name="persist", retries=2, retry_delay_seconds=2)
def persist(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    return persist_run(plan, decision, settings)


@task(name="publish")
def publish(plan: RunPlan, decision: Decision, settings: Settings, alerts: str) -> None:
    publish_run(plan, decision, settings, alerts)


@task(name="attribute-upstream")
def attribute_upstream(plan: RunPlan, settings: Settings) -> None:
    table = attribution(plan, load_suite(plan.suite_path), settings)
    create_table_artifact(key=artifact_key(plan.suite_name, "upstream"), table=table.to_dict("records"),
                          description=f"Change attributed to each upstream module (current − rolled back), run {plan.run_id}")


def _run_name() -> str:
    params = flow_run.parameters
    path = Path(str(params["suite_path"]))
    return f"{path.parent.name}/{path.stem} · {params.get('trigger', 'manual')}"


@flow(name="evaluate-suite", flow_run_name=_run_name, log_prints=True)
def evaluate_suite(suite_path: str, run_id: str | None = None, ray_address: str | None = None, trigger: str = "manual") -> dict[str, str]:
    """Evaluate every model of a suite on its datasets and record the verdict."""
    settings = load_settings(ray_address)
    plan = prepare(suite_path, run_id, trigger)
    try:
        with reporting(PrefectProgress(plan.run_id)):
            for model in plan.models:
                for item in (i for i in plan.work_items() if i.model == model.name):
                    infer(plan, item, settings)
                release_model(plan, model.name)
            score(plan, settings)
        drift(plan, settings)
        decision = decide(plan, settings)
        analyse(plan, settings)
        report(plan, decision, settings)
        persist(plan, decision, settings)
    except BaseException:
        discard_run(plan.run_id, settings)
        raise
    alerts = alert(plan, settings)  # after the commit: metric drift compares against committed history
    publish(plan, decision, settings, alerts)
    if any(v.startswith(ABLATION) for v in plan.variants):
        attribute_upstream(plan, settings)
    return {"run_id": plan.run_id, "verdict": decision.verdict}
