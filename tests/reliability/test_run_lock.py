"""The per-run-id lock and the startup sweep: a live run's staging is never touched, a dead run's is removed.

(Interrupted commits in ``runs/`` are settled by :mod:`storage.recovery`: see test_commit_order.py.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.run_lock import CLAIM_MARKER, RunBusyError, is_locked, lock_path, run_lock, sweep_staging
from suite.settings import Settings

_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", index_url="sqlite://", ray_address=None)


@pytest.fixture()
def other_process_holds(settings: Settings) -> Iterator[subprocess.Popen[str]]:
    """Another live process holding the lock of run id ``live``."""
    path = lock_path(settings, "live")
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait()


def _staging(settings: Settings, name: str, *, claimed: bool) -> Path:
    folder = settings.home / "staging" / name
    folder.mkdir(parents=True)
    (folder / "results.parquet").write_bytes(b"x")
    if claimed:
        (folder / CLAIM_MARKER).write_text("1")
    return folder


def test_a_held_id_is_refused_with_the_holders_pid(settings: Settings, other_process_holds: subprocess.Popen[str]) -> None:
    with pytest.raises(RunBusyError) as error:
        with run_lock(settings, "live"):
            pass
    assert str(error.value) == f"run 'live' is already running (pid {other_process_holds.pid}); wait for it or pick another --run-id"
    with run_lock(settings, "other"):  # different ids never wait for each other
        with run_lock(settings, "other"):  # re-entrant within a process
            assert is_locked(settings, "other")
        assert is_locked(settings, "other")
    assert not is_locked(settings, "other")


def test_a_lock_is_released_when_its_process_is_killed(settings: Settings, other_process_holds: subprocess.Popen[str]) -> None:
    assert is_locked(settings, "live")
    other_process_holds.kill()
    other_process_holds.wait()
    assert not is_locked(settings, "live")
    with run_lock(settings, "live"):
        assert lock_path(settings, "live").read_text().strip().isdigit()


def test_sweep_removes_only_dead_claimed_runs(settings: Settings, other_process_holds: subprocess.Popen[str]) -> None:
    dead = _staging(settings, "dead", claimed=True)
    live = _staging(settings, "live", claimed=True)
    unclaimed = _staging(settings, "shadow-replay", claimed=False)  # staged by a command that takes no claim
    with run_lock(settings, "mine"):
        mine = _staging(settings, "mine", claimed=True)
        removed = sweep_staging(settings)
        assert mine.is_dir()
    assert removed == [dead] and not dead.exists()
    assert live.is_dir() and unclaimed.is_dir()
