"""The evaluate-suite flow end to end: real Prefect, real local Ray, real SQLite and Postgres."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from flows.evaluate import evaluate_suite

pytestmark = pytest.mark.usefixtures("prefect_server")
from storage.cache import PredictionCache
from storage.store import ResultStore
from suite.settings import load_settings
from tests.suite_edits import slim_suite


def _cached_infer_task_runs() -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName, TaskRunFilterState, TaskRunFilterStateName

    state = TaskRunFilterState(name=TaskRunFilterStateName(any_=["Cached"]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(state=state, name=TaskRunFilterName(like_="infer")))
    return len(runs)


def test_digits_run_records_every_result(digits_suite: Path, vigil_home: Path) -> None:
    slim_suite(digits_suite, bootstrap={"resamples": 200})
    outcome = evaluate_suite(suite_path=str(digits_suite), run_id="digits-e2e")
    assert outcome == {"run_id": "digits-e2e", "verdict": "pass"}
    store = ResultStore(load_settings())
    run = store.get_run("digits-e2e")
    assert run is not None and run.status == "completed" and run.verdict == "pass"
    assert {m.name for m in run.models} == {"cnn", "mlp"}
    assert run.provenance["suite"]["hash"] == run.suite_hash
    assert set(run.provenance["models"]) == {"cnn", "mlp"}
    for model in ("cnn", "mlp"):  # where each model's actors ran (issue 17)
        placed = run.provenance["placements"][model]
        assert placed and all({"node_id", "node_ip", "pid", "gpu_ids", "device", "precision"} <= set(p) for p in placed)
    results = store.run_results("digits-e2e")
    # 2 models × 5 metrics × (all + 10 label slices)
    assert len(results) == 2 * 5 * 11
    overall = results[(results.slice == "all") & (results.metric == "accuracy")].set_index("model")
    assert overall.loc["cnn", "value"] > overall.loc["mlp", "value"]
    assert (overall["ci_low"] <= overall["value"]).all() and (overall["value"] <= overall["ci_high"]).all()
    assert (overall["n"] == run.datasets[0].rows).all()
    # every slice is under the exact-bootstrap threshold, and the commit stored the method, not a read-side default
    assert set(results["ci_method"]) == {"bootstrap"}
    with store.engine.connect() as connection:
        unrecorded = connection.exec_driver_sql("SELECT count(*) FROM metric_summary WHERE ci_method IS NULL").scalar()
    assert unrecorded == 0
    assert set(store.scan_results(run.suite)["ci_method"]) == {"bootstrap"}
    preds = store.read_predictions("digits-e2e", "digits-test", "cnn", "clean")
    assert len(preds) == run.datasets[0].rows
    assert (preds["y_pred"] == preds["y_true"]).mean() == pytest.approx(overall.loc["cnn", "value"])


def test_rerun_same_id_replaces_and_reuses_predictions(digits_suite: Path, vigil_home: Path) -> None:
    slim_suite(digits_suite)
    evaluate_suite(suite_path=str(digits_suite), run_id="same-id")
    cache = PredictionCache(load_settings().cache_dir)
    stamps = {p: p.stat().st_mtime_ns for p in cache.root.rglob("*.parquet")}
    assert len(stamps) == 2
    evaluate_suite(suite_path=str(digits_suite), run_id="same-id")
    assert {p: p.stat().st_mtime_ns for p in cache.root.rglob("*.parquet")} == stamps  # inference skipped
    # and Prefect's task cache said so (task-run states reach the server asynchronously, as events)
    deadline = time.monotonic() + 20
    while _cached_infer_task_runs() < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _cached_infer_task_runs() >= 2
    store = ResultStore(load_settings())
    assert [r.run_id for r in store.list_runs()] == ["same-id"]
    assert len(store.run_results("same-id")) == 2 * 5 * 11
    assert len(list((vigil_home / "results").rglob("run-same-id.parquet"))) == 1


def test_failing_gate_gives_fail_verdict(digits_suite: Path, vigil_home: Path) -> None:
    slim_suite(digits_suite, gates=[{"metric": "accuracy", "min": 0.999}])
    outcome = evaluate_suite(suite_path=str(digits_suite))
    assert outcome["verdict"] == "fail"
    assert re.fullmatch(r"digits-\d{8}T\d{6}-[0-9a-f]{6}", outcome["run_id"])


def test_run_on_postgres_index(digits_suite: Path, vigil_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_INDEX_URL", postgres_url)
    slim_suite(digits_suite)
    evaluate_suite(suite_path=str(digits_suite), run_id="pg-run")
    store = ResultStore(load_settings())
    assert store.get_run("pg-run") is not None
    assert len(store.history(suite="digits", metric="accuracy", model="cnn")) == 1
    assert not (vigil_home / "index.db").exists()
