"""The ``evaluate-suite`` flow: prepare → infer (per model × dataset × variant) → score → drift → decide → analyse → report → persist → alert → publish.

Each task (:mod:`flows.tasks`) is a coarse stage calling one function of
:mod:`pipeline`; tasks pass the run plan and URIs, never data frames. The plan
(:class:`~pipeline.evaluate.plan.RunPlan`) is built once per run: its public
fields are small JSON, what Prefect stores and hashes; it also holds, as private
attributes, the parsed suite and the datasets loaded at plan time, so no stage
reads the suite file or the data again. ``vigil run`` builds it before Prefect
starts and passes it in (``plan``); a deployment, schedule or trigger passes only
``suite_path`` and the flow's ``prepare`` task builds it.
Inference runs on warm Ray actors inside the ``infer`` task (Ray is reached by
address when one is configured, else started locally once per process), so
Prefect's own task runner stays the default thread pool.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from flows.progress import FlowLog, PrefectProgress
from flows.tasks import (
    CLUSTER_TAG, alert, analyse, decide, drift, infer, persist, prepare, publish, report, score,
)
from pipeline.evaluate.infer import release_workers
from pipeline.commit import claim_run, discard_run
from pipeline.evaluate.plan import RunPlan
from pipeline.progress import reporting
from suite.settings import load_settings

__all__ = ["CLUSTER_TAG", "evaluate_suite"]


def _run_name() -> str:
    params = flow_run.parameters
    path = Path(str(params["suite_path"]))
    return f"{path.parent.name}/{path.stem} · {params.get('trigger', 'manual')}"


@flow(name="evaluate-suite", flow_run_name=_run_name, log_prints=True)
def evaluate_suite(suite_path: str, run_id: str | None = None, ray_address: str | None = None, trigger: str = "manual",
                   plan: RunPlan | None = None) -> dict[str, str]:
    """Evaluate every model of a suite on its datasets and record the verdict (``plan``: one already prepared from ``suite_path``)."""
    settings, log = load_settings(ray_address), FlowLog()
    plan = plan if plan is not None else prepare(suite_path, run_id, trigger)
    log.planned(plan)
    with claim_run(plan.run_id, settings):  # one process per run id, held to the end: a second run of it fails at once
        try:
            with reporting(PrefectProgress(plan.run_id)), reporting(log):
                for model in plan.models:
                    for item in (i for i in plan.work_items() if i.model == model.name):
                        infer(plan, item, settings)
                    release_workers()
                log.stage("score", score(plan, settings))
            log.stage("drift", drift(plan, settings) or "no drift section in the suite")
            decision = decide(plan, settings)
            log.decided(decision)
            log.stage("analyse", ", ".join(analyse(plan, settings)) or "nothing to analyse")
            log.stage("report", report(plan, decision, settings))
            log.stage("persist", f"committed run {plan.run_id}: {persist(plan, decision, settings)}")
        except BaseException:
            release_workers()  # a long-lived process (a runner, a test session) must not keep a failed run's actors
            discard_run(plan.run_id, settings)
            raise
        alerts = alert(plan, settings)  # after the commit: metric drift compares against committed history
        log.stage("alert", alerts or "no alerts")
        publish(plan, decision, settings, alerts)
        log.stage("publish", f"verdict artifact and events sent; run {plan.run_id}: {decision.verdict.upper()}")
    return {"run_id": plan.run_id, "verdict": decision.verdict}
