"""The coarse Prefect tasks of an evaluation run: each wraps one stage of :mod:`pipeline`.

Only I/O-bound or worker-dependent tasks retry; inference backs off
exponentially with jitter and carries :data:`CLUSTER_TAG`, on which ``vigil
serve``/``vigil deploy`` set a concurrency limit so suites share a cluster.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff

from flows.alerts import alert_run
from flows.publish import publish_run
from pipeline.evaluate.analysis import analyse_run
from pipeline.evaluate.decide import Decision, decide_run
from pipeline.evaluate.drift import drift_stage
from pipeline.evaluate.infer import infer_item, prediction_cache_key
from pipeline.evaluate.persist import persist_run
from pipeline.evaluate.plan import RunPlan, WorkItem
from pipeline.evaluate.prepare import prepare_run
from pipeline.evaluate.report import stage_report
from pipeline.evaluate.score import score_run
from flows.retries import worth_retrying
from suite.settings import Settings, pause_for_tests


def _infer_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    return prediction_cache_key(parameters["plan"], parameters["item"], parameters["settings"], context.result_store.exists)


@task(name="prepare")
def prepare(suite_path: str, run_id: str | None, trigger: str) -> RunPlan:
    return prepare_run(suite_path, run_id=run_id, trigger=trigger)


CLUSTER_TAG = "vigil-cluster"
"""Inference tasks carry this tag; a tag concurrency limit on it (``vigil serve``/``deploy`` set one) caps runs sharing the cluster."""


@task(name="infer", task_run_name="infer {item.model} · {item.dataset} · {item.variant}", cache_key_fn=_infer_cache_key, tags=[CLUSTER_TAG],
      retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2), retry_jitter_factor=0.5, retry_condition_fn=worth_retrying)
def infer(plan: RunPlan, item: WorkItem, settings: Settings) -> str:
    pause_for_tests("infer", settings.home)
    return infer_item(plan, item, settings)


@task(name="score")
def score(plan: RunPlan, settings: Settings) -> str:
    pause_for_tests("score", settings.home)
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
    return alert_run(plan.run_id, settings, plan.suite)


@task(name="report")
def report(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    return stage_report(plan, decision, settings)


@task(name="persist", retries=2, retry_delay_seconds=2, retry_condition_fn=worth_retrying)
def persist(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    return persist_run(plan, decision, settings)


@task(name="publish")
def publish(plan: RunPlan, decision: Decision, settings: Settings, alerts: str) -> None:
    publish_run(plan, decision, settings, alerts)
