"""Publish a committed run to the Prefect dashboard: verdict markdown, metrics table, events."""

from __future__ import annotations

import os
import re

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from pipeline.evaluate.analysis import ROBUSTNESS_FILE
from pipeline.evaluate.attribution import UPSTREAM_FILE
from pipeline.evaluate.card import build_model_card
from pipeline.evaluate.decide import Decision
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.summary import headline_table, verdict_markdown
from reports.card import card_markdown
from reports.serve import ARTIFACTS_URL_ENV, http_link
from storage.frames import read_frame
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings


def artifact_key(suite: str, what: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) for ``suite``."""
    slug = re.sub(r"[^a-z0-9]+", "-", suite.lower()).strip("-")
    return f"vigil-{slug}-{what}"


def publish_run(plan: RunPlan, decision: Decision, settings: Settings, alerts: str = "") -> None:
    """Create the run's artifacts and emit its events."""
    store = ResultStore(settings)
    run = store.get_run(plan.run_id)
    results = store.run_results(plan.run_id)
    table = headline_table(results)
    folder = settings.runs_dir / plan.run_id
    robustness = read_frame(folder / ROBUSTNESS_FILE) if (folder / ROBUSTNESS_FILE).is_file() else None
    upstream = read_frame(folder / UPSTREAM_FILE) if (folder / UPSTREAM_FILE).is_file() else None
    artifacts = run.artifacts if run else []
    base_url = os.environ.get(ARTIFACTS_URL_ENV)  # set by `vigil serve`, which serves runs/ over HTTP beside the UI
    links = {a.uri: url for a in artifacts if (url := http_link(a.uri, settings.runs_dir, base_url))}
    create_markdown_artifact(
        key=artifact_key(plan.suite_name, "verdict"),
        markdown=verdict_markdown(plan, decision, artifacts, table, robustness, [alerts, ""] if alerts else None, upstream, links),
        description=f"Vigil verdict for {plan.suite_name}: {decision.verdict}",
    )
    if upstream is not None:
        create_table_artifact(key=artifact_key(plan.suite_name, "upstream"), table=_records(upstream),
                              description=f"Change attributed to each upstream module (current − rolled back), run {plan.run_id}")
    publish_cards(plan, settings)
    create_table_artifact(
        key=artifact_key(plan.suite_name, "metrics"),
        table=_records(table),
        description=f"Headline metrics of run {plan.run_id}",
    )
    resource = {"prefect.resource.id": f"vigil.suite.{plan.suite_name}", "prefect.resource.name": plan.suite_name}
    payload = {"run_id": plan.run_id, "verdict": decision.verdict, "trigger": plan.trigger, "failed_gates": decision.failed_gates()}
    emit_event(event="vigil.run.completed", resource=resource, payload=payload)
    if decision.verdict == "fail":
        emit_event(event="vigil.gate.failed", resource=resource, payload=payload)


def publish_cards(plan: RunPlan, settings: Settings) -> None:
    """One markdown artifact per evaluated model: its card (as `vigil card` writes it), key ``model-card-<suite>-<model>``."""
    try:
        spec = plan.suite
    except VigilError:
        spec = None  # a plan read back without its suite: the card says what the stored run holds
    for model in plan.models:
        card = build_model_card(settings, suite=plan.suite_name, model=model.name, run_id=plan.run_id, spec=spec)
        create_markdown_artifact(key=card_key(plan.suite_name, model.name), markdown=card_markdown(card),
                                 description=f"Model card of {model.name} from stored runs of {plan.suite_name} (run {plan.run_id})")


def card_key(suite: str, model: str) -> str:
    """The Prefect artifact key of ``model``'s card in ``suite`` (two suites may both have an ``mlp``)."""
    return "model-card-" + re.sub(r"[^a-z0-9]+", "-", f"{suite}-{model}".lower()).strip("-")


def _records(table: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()} for row in table.to_dict("records")]
