"""The drift wiring under real Prefect: the drift-watch flow, and the evaluate hooks on a committed example run."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.alerts import DRIFT_EVENT, emit_drift_events, emit_metric_events
from flows.drift_watch import drift_watch
from flows.evaluate import evaluate_suite
from pipeline.triggers.alerts import alerts_markdown, drift_alerts
from pipeline.evaluate.drift import drift_stage, drift_table
from pipeline.triggers.metric_watch import metric_changes_for_run
from pipeline.evaluate.prepare import prepare_run
from storage.store import ResultStore
from suite.settings import load_settings
from tests.drift.stream_data import write_logged_suite
from tests.drift.wiring_data import CHANGE_DAY, DAYS, read_events, window_day, write_suite

pytestmark = pytest.mark.usefixtures("prefect_server")
ROOT = Path(__file__).resolve().parents[2]
AUTOMATIONS = ROOT / "deploy" / "automations.yaml"


def _rename(suite_path: Path, name: str) -> None:
    doc = yaml.safe_load(suite_path.read_text())
    doc["name"] = name
    suite_path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_drift_watch_flow_stores_windows_and_emits_drift_events(tmp_path: Path, vigil_home: Path) -> None:
    suite_path = write_suite(tmp_path / "synth")
    name = f"synth-{uuid.uuid4().hex[:6]}"
    _rename(suite_path, name)
    outcome = drift_watch(suite_path=str(suite_path))
    assert [window_day(r) for r in outcome["runs"]] == list(range(1, DAYS + 1))
    assert [window_day(r) for r in outcome["drifted"]] == list(range(CHANGE_DAY, DAYS + 1))
    events = read_events(DRIFT_EVENT, f"vigil.suite.{name}", expected=outcome["drift_events"])
    assert len(events) == outcome["drift_events"]
    data_events = sorted((e.payload for e in events if e.payload["kind"] == "data"), key=lambda p: p["run_id"])
    assert [window_day(p["run_id"]) for p in data_events] == list(range(CHANGE_DAY, DAYS + 1))
    assert all(set(p["columns"]) == {"x0", "x1"} and p["magnitude"] == pytest.approx(2 / 3) for p in data_events)
    assert data_events[0]["window"][0] == "2026-05-03T00:00:00"
    assert {(e.payload["kind"], e.payload["model"]) for e in events} >= {("prediction", "logit")}


def test_automation_definitions_are_accepted_by_prefect() -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    definitions = yaml.safe_load(AUTOMATIONS.read_text())["automations"]
    with get_client(sync_client=True) as client:
        for definition in definitions:
            automation = AutomationCore.model_validate({**definition, "name": f"{definition['name']}-{uuid.uuid4().hex[:6]}"})
            created = client.read_automation(client.create_automation(automation))
            assert created is not None and created.trigger.expect == automation.trigger.expect
            client.delete_automation(created.id)
    assert {next(iter(d["trigger"]["expect"])) for d in definitions} >= {"vigil.gate.failed", "vigil.drift.detected", "vigil.metric.changed"}


@pytest.fixture()
def shifted_example(tmp_path: Path) -> Path:
    """The breast-cancer example with a second evaluation set: the stream's first shifted, labelled day."""
    target = tmp_path / "breast_cancer"
    shutil.copytree(ROOT / "examples" / "breast_cancer", target, ignore=shutil.ignore_patterns("__pycache__"))
    stream = pd.read_parquet(target / "data" / "stream.parquet")
    day = stream[stream["timestamp"].dt.floor("1D") == pd.Timestamp("2026-03-05")].drop(columns="timestamp")
    day.assign(label=day["label"].astype("int64")).to_parquet(target / "data" / "shifted.parquet", index=False)
    doc = yaml.safe_load((target / "suite.yaml").read_text())
    doc["name"] = f"bc-{uuid.uuid4().hex[:6]}"
    doc["datasets"].append({"name": "shifted", "path": "data/shifted.parquet", "label": "label"})
    for key in ("perturbations", "robustness", "robustness_gates"):
        doc.pop(key, None)
    doc["bootstrap"] = {"resamples": 100}
    (target / "suite.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return target / "suite.yaml"


def test_evaluate_hooks_on_a_committed_run(shifted_example: Path, vigil_home: Path) -> None:
    outcome = evaluate_suite(suite_path=str(shifted_example), run_id="bc-drift")
    settings = load_settings()
    plan = prepare_run(shifted_example, run_id="bc-drift")
    suite = plan.suite
    path = drift_stage(plan, settings)
    assert path is not None and Path(path).name == "drift.parquet"
    table = drift_table(outcome["run_id"], settings)
    assert set(table["dataset"]) == {"cancer-test", "shifted"}
    assert set(table["kind"]) == {"data", "prediction", "target", "multivariate"}
    assert set(table.loc[table["kind"] == "prediction", "model"]) == {"boosting", "mlp"}
    assert (table.groupby(["dataset", "kind", "model"])["column"].count().loc[("cancer-test", "data", "")]) == 10
    assert {"drift-cancer-test.html", "drift-shifted.html"} <= {p.name for p in Path(path).parent.iterdir()}
    shares = table[table["kind"] == "data"].groupby("dataset")["dataset_drifted"].first()
    assert not shares["cancer-test"] and shares["shifted"]
    alerts = drift_alerts(table)
    assert {(a.dataset, a.kind) for a in alerts if a.kind == "data"} == {("shifted", "data")}
    assert emit_drift_events(alerts) == len(alerts)
    events = read_events(DRIFT_EVENT, f"vigil.suite.{suite.name}", expected=len(alerts))
    assert {(e.payload["dataset"], e.payload["kind"], e.payload["model"]) for e in events} == {(a.dataset, a.kind, a.model) for a in alerts}
    assert all(e.payload["run_id"] == "bc-drift" for e in events)
    metrics = metric_changes_for_run("bc-drift", settings)
    assert metrics == [] and emit_metric_events(metrics) == 0  # one run: no history to leave
    snippet = alerts_markdown(alerts, metrics)
    assert snippet.startswith("## ⚠️ Drift and metric changes") and "on `shifted`" in snippet
    assert ResultStore(settings).get_run("bc-drift") is not None


def test_drift_stage_is_skipped_without_a_drift_section(shifted_example: Path, vigil_home: Path) -> None:
    doc = yaml.safe_load(shifted_example.read_text())
    doc.pop("drift")
    shifted_example.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan = prepare_run(shifted_example, run_id="no-drift")
    assert drift_stage(plan, load_settings()) is None


def test_drift_watch_flow_alerts_on_concept_drift_windows(tmp_path: Path, vigil_home: Path) -> None:
    suite_path = write_logged_suite(tmp_path / "logs", "concept", windows=4, change=2)
    name = f"logs-{uuid.uuid4().hex[:6]}"
    _rename(suite_path, name)
    outcome = drift_watch(suite_path=str(suite_path))
    assert list(outcome["patterns"].values()) == ["none", "none", "concept drift", "concept drift"]
    events = read_events(DRIFT_EVENT, f"vigil.suite.{name}", expected=outcome["drift_events"])
    concept = sorted((e.payload for e in events if e.payload["kind"] == "concept"), key=lambda p: p["run_id"])
    assert [p["run_id"] for p in concept] == list(outcome["patterns"])[2:]
    assert all(p["columns"] and set(p["columns"]) <= {"labels", "accuracy:logged"} and p["magnitude"] > 0.05 for p in concept)
    assert not [e for e in events if e.payload["kind"] == "data"]  # the features never moved
