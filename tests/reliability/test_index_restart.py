"""The index's Postgres crashes during a commit: the commit retries and lands, or fails whole; the next one works.

A second, disposable Postgres is made for the test (``initdb``/``pg_ctl`` as
user postgres), crashed with ``pg_ctl stop -m immediate`` and started again.
Skipped off CI where that is impossible (no binaries, not root), a failure
under CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage.store
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings
from tests.conftest import require
from tests.reliability.crash_kit import index_counts, leftovers, stage_run

pytestmark = pytest.mark.slow  # a Postgres cluster of its own


class DisposablePostgres:
    """A Postgres cluster in a temporary folder, on a free port, run by user postgres."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="vigil-pg-"))  # not under pytest's root-only tmp: postgres must enter it
        shutil.chown(self.folder, "postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(f"initdb -D {self.folder}/data -A trust -U postgres")

    def _as_postgres(self, command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._as_postgres(f"pg_ctl -D {self.folder}/data -o '{options}' -l {self.folder}/log -w start")

    def crash(self) -> None:
        self._as_postgres(f"pg_ctl -D {self.folder}/data -m immediate stop")

    def remove(self) -> None:
        subprocess.run(["su", "postgres", "-c", f"pg_ctl -D {self.folder}/data -m immediate stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture()
def postgres() -> Iterator[DisposablePostgres]:
    possible = shutil.which("initdb") is not None and shutil.which("pg_ctl") is not None and shutil.which("su") is not None
    require(possible and os.geteuid() == 0, "a disposable Postgres needs initdb, pg_ctl and root (to run them as postgres)")
    server = DisposablePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def test_commit_survives_a_postgres_restart_or_fails_whole(postgres: DisposablePostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(Settings(home=tmp_path / "home", index_url=postgres.url, ray_address=None))
    run, results = stage_run(store, "r0")
    store.commit_run(run, results)

    # crashed, back 1 s later: the commit retries and lands once
    postgres.crash()
    restart = threading.Timer(1.0, postgres.start)
    restart.start()
    run, results = stage_run(store, "r1", day=1)
    store.commit_run(run, results)
    restart.join()
    assert index_counts(store) == {"run": 2, "metric_summary": 32, "artifact": 2}
    assert (store.settings.runs_dir / "r1" / "report.html").is_file() and not store.staging_dir("r1").exists()

    # crashed for longer than the retries last: one line, nothing half-visible, the run still staged
    postgres.crash()
    monkeypatch.setattr(storage.store, "_INDEX_RETRY_PAUSES_S", (0.2, 0.2))
    run, results = stage_run(store, "r2", day=2)
    started = time.monotonic()
    with pytest.raises(VigilError) as error:
        store.commit_run(run, results)
    assert time.monotonic() - started < 30
    assert "\n" not in str(error.value) and "after 3 attempts" in str(error.value) and "nothing was recorded" in str(error.value)
    assert not (store.settings.runs_dir / "r2").exists() and (store.staging_dir("r2") / "report.html").is_file()
    assert leftovers(store) == []
    monkeypatch.undo()  # the next commit retries as a user's would: a Postgres back from a crash may still be recovering
    postgres.start()
    assert store.get_run("r2") is None and index_counts(store) == {"run": 2, "metric_summary": 32, "artifact": 2}

    store.commit_run(run, results)  # the next attempt succeeds
    assert index_counts(store) == {"run": 3, "metric_summary": 48, "artifact": 3}
    assert (store.settings.runs_dir / "r2" / "report.html").is_file()
    store.close()
