"""Commits are atomic and idempotent: a failed commit leaves nothing visible, a re-run replaces."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from storage.models import Artifact, DatasetVersion, MetricSummary, ModelVersion, Run
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings
from tests.storage.factories import make_results, make_run


def _files(root: Path) -> list[str]:
    """Every file under ``root``, hidden ones included, relative and sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _index_counts(store: ResultStore, run_id: str) -> dict[str, int]:
    with Session(store.engine) as session:
        return {
            table.__tablename__: session.exec(select(func.count()).select_from(table).where(table.run_id == run_id)).one()[0]
            for table in (Run, ModelVersion, DatasetVersion, MetricSummary, Artifact)
        }


def test_rerun_same_id_replaces_within_one_partition(store: ResultStore) -> None:
    run = make_run("r1")
    store.commit_run(run, make_results(run, accuracy=0.9))
    store.commit_run(run, make_results(run, accuracy=0.7))

    assert _index_counts(store, "r1") == {"run": 1, "model_version": 2, "dataset_version": 1, "metric_summary": 16, "artifact": 1}
    assert _files(store.settings.results_dir) == ["suite=digits/date=2026-03-01/run-r1.parquet"]
    assert len(store.scan_results()) == 16
    assert list(store.history(suite="digits", metric="accuracy", model="mlp")["value"]) == [0.7]


def test_rerun_same_id_moves_across_date_partitions(store: ResultStore) -> None:
    first = make_run("r1", day=0)
    store.commit_run(first, make_results(first, accuracy=0.9))
    again = make_run("r1", day=1)
    store.commit_run(again, make_results(again, accuracy=0.6))

    assert _files(store.settings.results_dir) == ["suite=digits/date=2026-03-02/run-r1.parquet"]
    assert _index_counts(store, "r1")["metric_summary"] == 16
    assert [r.started_at for r in store.list_runs()] == [again.started_at]
    history = store.history(suite="digits", metric="accuracy", model="mlp")
    assert list(history["value"]) == [0.6]


def test_unique_violation_leaves_no_new_run_and_keeps_the_old(store: ResultStore) -> None:
    good = make_run("r1")
    good_results = make_results(good, accuracy=0.9)
    store.commit_run(good, good_results)
    parquet = store.settings.results_dir / "suite=digits" / "date=2026-03-01" / "run-r1.parquet"
    before = pd.read_parquet(parquet)

    # two rows for one (run, dataset, model, variant, slice, metric) key: the index's unique constraint refuses
    bad = make_run("r2", day=1)
    store.write_predictions("r2", "test", "mlp", "clean", pd.DataFrame({"sample_id": [1], "y_true": [0], "y_pred": [0]}))
    bad_results = make_results(bad)
    with pytest.raises(VigilError, match="index refused"):
        store.commit_run(bad, pd.concat([bad_results, bad_results.iloc[[0]]]))
    assert store.get_run("r2") is None
    assert _index_counts(store, "r2") == dict.fromkeys(["run", "model_version", "dataset_version", "metric_summary", "artifact"], 0)
    assert _files(store.settings.results_dir) == ["suite=digits/date=2026-03-01/run-r1.parquet"]
    assert not (store.settings.runs_dir / "r2").exists()  # staged predictions stay staged for a retry
    assert store.staging_dir("r2").is_dir()

    # the same failure on a re-run of r1 keeps r1 exactly as it was, in the index and in Parquet
    redo = make_results(good, accuracy=0.1)
    with pytest.raises(VigilError, match="index refused"):
        store.commit_run(good, pd.concat([redo, redo.iloc[[5]]]))
    assert _files(store.settings.results_dir) == ["suite=digits/date=2026-03-01/run-r1.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), before)
    assert list(store.history(suite="digits", metric="accuracy", model="mlp")["value"]) == [0.9]
    assert [r.run_id for r in store.list_runs()] == ["r1"]


def _assert_nothing_visible(home: Path) -> None:
    assert _files(home / "results") == []
    assert not (home / "runs").exists()


def test_missing_postgres_database_leaves_no_parquet(tmp_path: Path, postgres_server: str) -> None:
    url = f"{postgres_server}/vigil_absent_{uuid.uuid4().hex[:12]}"
    store = ResultStore(Settings(home=tmp_path / "home", index_url=url, ray_address=None))
    run = make_run("r1")
    with pytest.raises(VigilError, match="does not exist"):
        store.commit_run(run, make_results(run))
    _assert_nothing_visible(tmp_path / "home")


def test_unopenable_sqlite_index_leaves_no_parquet(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "index-is-a-folder").mkdir(parents=True)
    store = ResultStore(Settings(home=home, index_url=f"sqlite:///{home / 'index-is-a-folder'}", ray_address=None))
    run = make_run("r1")
    with pytest.raises(VigilError, match="unable to open database"):
        store.commit_run(run, make_results(run))
    _assert_nothing_visible(home)
