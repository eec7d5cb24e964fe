"""The interval method is stored with every results row, and runs stored before it still read.

"Before" is built the way the old code stored a run: the index at migration
0001 (no ``ci_method`` column) and a results Parquet file without the column;
opening the store then migrates the index to head, as at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from cli.show import show_document
from storage.db import MIGRATIONS_DIR, create_index_engine, write_connection_options
from storage.index_rows import as_utc, metric_rows, normalise_results
from storage.parquet import write_parquet_atomic
from storage.records import RunRecord
from storage.store import ResultStore
from tests.storage.factories import make_results, make_run


def _commit_as_before_ci_method(store: ResultStore, run: RunRecord, results: pd.DataFrame) -> None:
    """Store ``run`` as the code before ``ci_method`` did: index at revision 0001, Parquet without the column."""
    engine = create_index_engine(store.settings.index_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.connect().execution_options(**write_connection_options()) as connection, connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
        frame = normalise_results(run, results.drop(columns="ci_method")).drop(columns="ci_method")
        backup = write_parquet_atomic(frame, store.results_path(run))
        assert backup is None
        tables = sa.MetaData()
        tables.reflect(engine)
        assert "ci_method" not in tables.tables["metric_summary"].c  # really the old schema
        run_row = {"run_id": run.run_id, "suite": run.suite, "suite_hash": run.suite_hash, "status": run.status,
                   "verdict": run.verdict, "trigger": run.trigger, "started_at": as_utc(run.started_at),
                   "finished_at": as_utc(run.finished_at) if run.finished_at else None, "provenance": {}}
        with engine.begin() as connection:
            connection.execute(tables.tables["run"].insert(), [run_row])
            connection.execute(tables.tables["metric_summary"].insert(), metric_rows(frame))
    finally:
        engine.dispose()


def test_ci_method_stored_in_parquet_and_index(store: ResultStore) -> None:
    run = make_run("r1")
    results = make_results(run)
    store.commit_run(run, results)

    expected = results.set_index(["model", "variant", "slice", "metric"])["ci_method"].sort_index()
    for got in (store.run_results("r1"), store.scan_results("digits"),
                pd.read_parquet(store.results_path(run))):
        pd.testing.assert_series_equal(got.set_index(["model", "variant", "slice", "metric"])["ci_method"].sort_index(), expected)
    history = store.history(suite="digits", metric="accuracy", model="mlp", slice="label=3")
    assert history["ci_method"].tolist() == ["bootstrap"]
    assert store.history(suite="digits", metric="accuracy", model="mlp")["ci_method"].tolist() == ["normal-sums"]


def test_rows_without_a_method_are_stored_null(store: ResultStore) -> None:
    run = make_run("r1")
    results = make_results(run).drop(columns="ci_method")
    results.loc[0, ["ci_low", "ci_high"]] = np.nan  # a row without an interval has no method
    store.commit_run(run, results)

    with store.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT ci_method FROM metric_summary")).scalars().all()
    assert stored == [None] * len(results)
    assert pd.read_parquet(store.results_path(run))["ci_method"].isna().all()
    got = store.run_results("r1")
    assert got["ci_method"].iloc[0] is None
    assert set(got["ci_method"].iloc[1:]) == {"bootstrap"}


def test_run_stored_before_ci_method_reads_after_upgrade(store: ResultStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old, new = make_run("old"), make_run("new", day=1)
    old_results = make_results(old, accuracy=0.81)
    old_results.loc[old_results["metric"] == "macro_f1", ["ci_low", "ci_high"]] = np.nan
    _commit_as_before_ci_method(store, old, old_results)

    store.commit_run(new, make_results(new, accuracy=0.83))  # the store migrates the index to head first

    history = store.history(suite="digits", metric="accuracy", model="mlp")
    assert history["run_id"].tolist() == ["old", "new"]
    assert history["value"].tolist() == [0.81, 0.83]
    assert history["ci_method"].tolist() == ["bootstrap", "normal-sums"]
    old_rows = store.run_results("old")
    assert len(old_rows) == len(old_results)
    assert set(old_rows.loc[old_rows["metric"] == "accuracy", "ci_method"]) == {"bootstrap"}
    assert old_rows.loc[old_rows["metric"] == "macro_f1", "ci_method"].isna().all()
    scanned = store.scan_results("digits")
    assert sorted(set(scanned["run_id"])) == ["new", "old"]
    pd.testing.assert_series_equal(scanned[scanned["run_id"] == "old"]["ci_method"].reset_index(drop=True),
                                   old_rows["ci_method"].reset_index(drop=True), check_index=False)
    assert set(scanned[scanned["run_id"] == "new"]["ci_method"]) == {"normal-sums", "bootstrap-cells", "bootstrap"}

    monkeypatch.setenv("VIGIL_HOME", str(store.settings.home))
    monkeypatch.setenv("VIGIL_INDEX_URL", store.settings.index_url)
    document = show_document("old")
    rows = {(r["model"], r["variant"], r["slice"], r["metric"]): r for r in document["results"]}
    assert rows[("mlp", "clean", "all", "accuracy")]["ci_method"] == "bootstrap"
    assert rows[("mlp", "clean", "all", "macro_f1")]["ci_method"] is None
    assert json.loads(json.dumps(document)) == document
