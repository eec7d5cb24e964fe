"""Vigil's Prefect deployments, per suite: nightly, on-model-change, on-upstream-change, backfill, shadow-replay, drift-watch.

``vigil serve`` serves them from one process (the runner executes each flow run
in a child process that inherits ``VIGIL_*``); ``vigil deploy`` registers them on
an existing server's process work pool, with the code loaded from this checkout.
The same deployments are written out as data in ``prefect.yaml``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron

from pipeline.triggers.derive import MODEL_UPDATED
from pipeline.triggers.upstream_changes import UPSTREAM_UPDATED
from suite.load import load_suite
from suite.spec import ScheduleSpec

ROOT = Path(__file__).resolve().parents[1]

ENTRYPOINTS = {
    "nightly": "flows/nightly.py:nightly",
    "on-model-change": "flows/on_model_change.py:on_model_change",
    "on-upstream-change": "flows/on_upstream_change.py:on_upstream_change",
    "backfill": "flows/backfill.py:backfill",
    "shadow-replay": "flows/shadow.py:shadow_replay",
    "drift-watch": "flows/drift_watch.py:drift_watch",
}
"""Deployment kind → flow entrypoint (relative to the project root)."""

MODEL_CHANGE_PARAMETERS = {
    "model": "{{ event.payload.model }}",
    "version": "{{ event.payload.version }}",
    "path": "{{ event.payload.path }}",
    "sha256": "{{ event.payload.sha256 }}",
    "event_id": "{{ event.id | string }}",
}
"""How the trigger maps a ``vigil.model.updated`` event onto ``on_model_change``'s parameters."""


def model_change_trigger(suite_path: str, models: list[str]) -> DeploymentEventTrigger:
    """Run on ``vigil.model.updated`` for any of ``models`` (the suite's candidates)."""
    return DeploymentEventTrigger(
        name="vigil.model.updated",
        expect={MODEL_UPDATED},
        match={"prefect.resource.id": [f"vigil.model.{m}" for m in models]},
        parameters={"suite_path": suite_path, **MODEL_CHANGE_PARAMETERS},
    )


UPSTREAM_CHANGE_PARAMETERS = {
    name: f"{{{{ event.payload.{name} }}}}" for name in ("module", "version", "field", "path", "sha256", "previous_sha256")
} | {"event_id": "{{ event.id | string }}"}
"""How the trigger maps a ``vigil.upstream.updated`` event onto ``on_upstream_change``'s parameters."""


def upstream_change_trigger(suite_path: str, modules: list[str]) -> DeploymentEventTrigger:
    """Run on ``vigil.upstream.updated`` for any of ``modules`` (the suite's upstream modules)."""
    return DeploymentEventTrigger(
        name="vigil.upstream.updated",
        expect={UPSTREAM_UPDATED},
        match={"prefect.resource.id": [f"vigil.upstream.{m}" for m in modules]},
        parameters={"suite_path": suite_path, **UPSTREAM_CHANGE_PARAMETERS},
    )


def load_flow(kind: str, *, from_checkout: bool = False) -> Flow[..., Any] | None:
    """The flow of deployment ``kind``; None when its module is not installed (yet)."""
    file, name = ENTRYPOINTS[kind].split(":")
    if not (ROOT / file).is_file():
        return None  # only flows of this checkout: an installed copy elsewhere would not match the entrypoint
    try:
        loaded = getattr(importlib.import_module(file.removesuffix(".py").replace("/", ".")), name)
    except (ImportError, AttributeError):
        return None
    return Flow.from_source(str(ROOT), ENTRYPOINTS[kind]) if from_checkout else loaded


def _takes_suite(flow: Flow[..., Any]) -> bool:
    return "suite_path" in inspect.signature(flow.fn).parameters


def suite_deployments(suite_path: str | Path, *, cron: str | None = None, timezone: str | None = None,
                      work_pool: str | None = None, env: dict[str, str] | None = None) -> list[RunnerDeployment]:
    """Every deployment for one suite, named after it; options override the suite's ``schedule:``."""
    path = str(Path(suite_path).resolve())
    suite = load_suite(path)
    when = suite.schedule or ScheduleSpec()
    limit = ConcurrencyLimitConfig(limit=when.concurrency, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)
    candidates = [m.name for m in suite.candidates]
    options: dict[str, dict[str, Any]] = {
        "nightly": {"schedules": [Cron(cron or when.cron, timezone=timezone or when.timezone)], "concurrency_limit": limit},
        "on-model-change": {"triggers": [model_change_trigger(path, candidates)], "concurrency_limit": limit},
        "on-upstream-change": {"triggers": [upstream_change_trigger(path, [m.name for m in suite.upstream])], "concurrency_limit": limit},
        "backfill": {"concurrency_limit": limit},
        "shadow-replay": {},
        "drift-watch": {},
    }
    deployments = []
    for kind, extra in options.items():
        local = load_flow(kind)
        if local is None or not _takes_suite(local) or (kind == "on-upstream-change" and not suite.upstream):
            continue  # a flow not in this checkout, one not run per suite, or a suite with no upstream modules
        flow = load_flow(kind, from_checkout=True) if work_pool else local
        deployments.append(flow.to_deployment(
            name=suite.name, parameters={"suite_path": path}, tags=["vigil", f"suite:{suite.name}", f"trigger:{kind}"],
            description=f"Vigil {kind} for suite {suite.name} ({path})", work_pool_name=work_pool,
            job_variables={"env": env} if work_pool and env else None, **extra,
        ))
    return deployments


def ensure_work_pool(name: str) -> None:
    """Create process work pool ``name`` on the server when it does not exist yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def ensure_cluster_limit(slots: int) -> None:
    """Cap concurrent inference tasks across all suites (tag ``vigil-cluster``) at ``slots``."""
    from prefect.client.orchestration import get_client

    from flows.evaluate import CLUSTER_TAG

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag=CLUSTER_TAG, concurrency_limit=slots)


def serve_deployments(deployments: list[RunnerDeployment], limit: int) -> None:
    """Serve ``deployments`` in this process (a Prefect runner) until stopped."""
    from prefect import serve

    serve(*deployments, limit=limit)


def deploy_deployments(deployments: list[RunnerDeployment], work_pool: str) -> list[Any]:
    """Register ``deployments`` on ``work_pool`` of the configured server; returns their ids."""
    from prefect import deploy

    return list(deploy(*deployments, work_pool_name=work_pool, build=False, push=False, print_next_steps_message=False))
