"""Four threads committing different runs lose nothing, on both backends."""

from __future__ import annotations

import pytest

from storage.store import ResultStore
from suite.settings import Settings
from tests.storage.factories import make_results, make_run, race

THREADS, RUNS_PER_THREAD = 4, 3


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_four_writers_lose_nothing(settings: Settings, shared: bool) -> None:
    stores = [ResultStore(settings)] * THREADS if shared else [ResultStore(settings) for _ in range(THREADS)]

    def write(worker: int) -> None:
        for index in range(RUNS_PER_THREAD):
            run = make_run(f"w{worker}-r{index}", day=worker * RUNS_PER_THREAD + index)
            stores[worker].commit_run(run, make_results(run, accuracy=worker / 10 + index / 100))

    errors = race(write, THREADS)  # a fresh index: separate stores also race the migration
    try:
        assert errors == []
        reader = stores[0]
        expected = {f"w{w}-r{i}" for w in range(THREADS) for i in range(RUNS_PER_THREAD)}
        assert {run.run_id for run in reader.list_runs(limit=100)} == expected
        assert len(reader.scan_results()) == len(expected) * 16
        history = reader.history(suite="digits", metric="accuracy", model="mlp")
        assert list(history["value"]) == pytest.approx(
            [w / 10 + i / 100 for w in range(THREADS) for i in range(RUNS_PER_THREAD)]
        )
        assert len(list(settings.results_dir.rglob("*.parquet"))) == len(expected)
    finally:
        for store in set(stores):
            store.close()
