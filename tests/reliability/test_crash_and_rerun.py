"""``kill -9`` of ``vigil run`` at two stages, then a re-run of the same id: recorded once, nothing leaked.

A run is stopped at a known point with the test hook ``VIGIL_TEST_PAUSE_AT``
(see :func:`suite.settings.pause_for_tests`): at ``score`` (Prefect's
temporary server and a local Ray are up, predictions staged) and at
``commit`` (the run folder already moved into ``runs/``, the index not yet
written; predictions come from the cache the first attempt filled, so no Ray).
Every process the run started carries a marker in its environment;
after the kill none may survive (a few seconds allowed), and the index must
not show the run. The re-run, raced by three more runs of the same id that
must exit 2 naming its pid, then completes and is recorded exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from storage.store import ResultStore
from suite.settings import load_settings
from tests.reliability.crash_kit import environ_has, is_alive, leftovers, pid_of
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.slow  # `vigil run` in subprocesses, each with its own Prefect server and Ray

ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "crash"


def _marked(marker: str) -> dict[int, str]:
    """Every live process whose environment carries ``marker``: pid -> start time."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and environ_has(int(entry), marker):
            try:
                found[int(entry)] = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[19]
            except OSError:
                continue
    return found


def _cmdlines(pids: dict[int, str]) -> str:
    return " | ".join(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:100]
                      for pid in pids if Path(f"/proc/{pid}/cmdline").exists())


def _wait_gone(processes: dict[int, str], seconds: float) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    alive = processes
    while alive and time.monotonic() < deadline:
        time.sleep(0.25)
        alive = {pid: started for pid, started in alive.items() if is_alive(pid, started)}
    return alive


def _start(suite: Path, env: dict[str, str], **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "run", str(suite), "--run-id", RUN_ID], cwd=ROOT, env={**env, **extra},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_at(stage: str, expected: tuple[str, ...], suite: Path, env: dict[str, str], home: Path, marker: str) -> None:
    proc = _start(suite, env, VIGIL_TEST_PAUSE_AT=stage)
    try:
        flag = home / f"paused-at-{stage}"
        deadline = time.monotonic() + 300
        while not flag.exists():
            assert proc.poll() is None, f"the run ended before {stage}: {proc.communicate()}"
            assert time.monotonic() < deadline, f"the run never reached {stage}"
            time.sleep(0.2)
        assert pid_of(flag) == proc.pid
        started = _marked(marker)
        names = _cmdlines(started)
        assert all(name in names for name in expected), names  # what could leak is really there
    finally:
        proc.kill()
        proc.communicate()
    flag.unlink()
    survivors = _wait_gone(started, 15)
    assert not survivors, f"still alive 15 s after kill -9 at {stage}: {_cmdlines(survivors)}"
    store = ResultStore(load_settings(home=home))
    assert store.get_run(RUN_ID) is None, f"a run killed at {stage} is visible in the index"
    store.close()


def test_kill_9_at_score_and_at_commit_then_rerun_records_once(digits_suite: Path, tmp_path: Path) -> None:
    slim_suite(digits_suite)
    home, marker = tmp_path / "home", f"VIGIL_CRASH_{uuid.uuid4().hex}"
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT), marker: "1"}
    env.pop("VIGIL_INDEX_URL", None)
    env.pop("VIGIL_RAY_ADDRESS", None)

    _kill_at("score", ("uvicorn", "raylet", "gcs_server"), digits_suite, env, home, marker)
    assert (home / "staging" / RUN_ID).is_dir()  # the crash's leftover, for the next run to sweep
    _kill_at("commit", ("uvicorn",), digits_suite, env, home, marker)  # predictions cached by the first attempt: no Ray this time
    assert (home / "runs" / RUN_ID).is_dir() and not (home / "staging" / RUN_ID).exists()  # moved, never indexed

    rerun = _start(digits_suite, env, VIGIL_TEST_PAUSE_AT="score")  # held at score until the contenders are done
    flag = home / "paused-at-score"
    deadline = time.monotonic() + 300
    while not flag.exists():
        assert rerun.poll() is None and time.monotonic() < deadline, rerun.communicate()
        time.sleep(0.2)
    contenders = [_start(digits_suite, env) for _ in range(3)]
    for contender in contenders:
        _, stderr = contender.communicate(timeout=300)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert contender.returncode == 2 and len(lines) == 1, stderr
        assert f"run '{RUN_ID}' is already running (pid {rerun.pid})" in lines[0], stderr
    flag.unlink()
    stdout, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr

    store = ResultStore(load_settings(home=home))
    assert [r.run_id for r in store.list_runs()] == [RUN_ID]
    results = store.run_results(RUN_ID)
    parquet = pd.read_parquet(store.results_path(store.get_run(RUN_ID)))
    assert len(results) == len(parquet) > 0 and not results.duplicated(["dataset", "model", "variant", "slice", "metric"]).any()
    assert store.broken_runs([RUN_ID]) == {} and (home / "runs" / RUN_ID / "report.html").is_file()
    assert not any((home / "staging").iterdir()) and leftovers(store) == []
    store.close()
    assert not _wait_gone(_marked(marker), 15), "a process of the finished runs is still alive"
