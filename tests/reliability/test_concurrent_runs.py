"""Concurrent runs: one id serialises (one wins, the others exit 2 naming the holder), different ids never lose rows.

Four real processes race on one index, SQLite and Postgres (the shared
``postgres_url`` fixture: skipped off CI without a server, a failure under CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.store import ResultStore
from suite.settings import Settings
from tests.reliability.crash_kit import index_counts, leftovers

pytestmark = pytest.mark.slow  # a subprocess per contender

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'index.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    ResultStore(Settings(home=home, index_url=url, ray_address=None)).engine.dispose()  # migrate once, before the race
    return Settings(home=home, index_url=url, ray_address=None)


def _race(settings: Settings, run_ids: list[str], tmp_path: Path, hold_s: float) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(len(run_ids))]
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.reliability.commit_worker", str(settings.home), settings.index_url, run_id,
                          str(flag), str(go), str(hold_s)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for run_id, flag in zip(run_ids, ready, strict=True)
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in procs]


def test_one_id_serialises_and_different_ids_lose_nothing(settings: Settings, tmp_path: Path) -> None:
    """Eight processes at once: four of run id ``same``, and four more with ids of their own."""
    distinct = [f"run-{i}" for i in range(4)]
    outcomes = _race(settings, ["same"] * 4 + distinct, tmp_path, hold_s=3.0)
    same, others = outcomes[:4], outcomes[4:]

    winners = [o for o in same if o.returncode == 0]
    assert len(winners) == 1, [o.stderr for o in same]
    winner_pid = winners[0].stdout.strip()
    for loser in (o for o in same if o.returncode != 0):
        assert loser.returncode == 2, loser.stderr
        lines = [line for line in loser.stderr.splitlines() if line.strip()]
        assert lines == [f"error: run 'same' is already running (pid {winner_pid}); wait for it or pick another --run-id"], loser.stderr
    assert [o.returncode for o in others] == [0, 0, 0, 0], [o.stderr for o in others]

    store = ResultStore(settings)
    assert index_counts(store) == {"run": 5, "metric_summary": 5 * 16, "artifact": 5}
    for run_id in ["same", *distinct]:
        assert len(store.run_results(run_id)) == 16
        assert (settings.runs_dir / run_id / "report.html").is_file()
        assert (settings.runs_dir / run_id / "predictions" / "test" / "mlp" / "clean.parquet").is_file()
        assert not store.staging_dir(run_id).exists()
    assert len(list(settings.results_dir.rglob("run-*.parquet"))) == 5 and leftovers(store) == []
    store.close()
