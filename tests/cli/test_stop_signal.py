"""SIGTERM ends a long-running command even when its first SystemExit is swallowed by a finaliser, and never cuts its cleanup short."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The stop signal arrives while a finaliser runs (as it did in an asyncio transport's __del__ under CI load), so the
# handler's SystemExit is raised inside it and swallowed ("Exception ignored in ..."); then the cleanup sends
# itself SIGTERM, which must be ignored.
CHILD = """
import os, signal, time
from cli.stop_signal import StopOnTerm
stop = StopOnTerm().install()
class Collected:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
try:
    Collected()
    for _ in range(100):
        time.sleep(0.05)
    print("still running", flush=True)
finally:
    stop.cleaning()
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.3)
    print(f"cleaned, resent {stop.resent}", flush=True)
"""


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)


def test_a_sigterm_swallowed_by_a_finaliser_is_raised_again_and_the_cleanup_runs_whole() -> None:
    done = run_child(CHILD)
    assert "Exception ignored" in done.stderr and "SystemExit" in done.stderr, done.stderr  # it really was swallowed
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == ["cleaned, resent 1"], (done.stdout, done.stderr)  # exited at once, cleaned up whole


def test_a_plain_handler_loses_that_sigterm() -> None:
    # the case itself: with sys.exit in a plain handler, the command keeps running
    plain = CHILD.replace("stop = StopOnTerm().install()", "signal.signal(signal.SIGTERM, lambda *_: exit(0)); stop = StopOnTerm()")
    assert run_child(plain).stdout.startswith("still running")
