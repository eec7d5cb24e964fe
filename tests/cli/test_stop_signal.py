"""SIGTERM ends a long-running command even when its first SystemExit is swallowed, and never cuts its cleanup short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A command that swallows the first SystemExit (as a finaliser would: "Exception ignored in ..."), then cleans up
# slowly, sending itself SIGTERM during the cleanup.
CHILD = """
import os, signal, sys, time
from cli.stop_signal import StopOnTerm
stop = StopOnTerm(retry_s=0.3).install()
print("ready", flush=True)
swallowed = 0
try:
    while True:
        try:
            time.sleep(0.05)
        except SystemExit:
            if swallowed:
                raise
            swallowed += 1
            print("swallowed", flush=True)
finally:
    stop.cleaning()
    os.kill(os.getpid(), signal.SIGTERM)  # ignored from now on
    time.sleep(0.8)
    print("cleaned", flush=True)
"""


def test_a_swallowed_sigterm_is_raised_again_and_the_cleanup_runs_whole() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.split() == ["swallowed", "cleaned"], (out, err)  # raised again after the swallow; cleanup not cut short
    assert time.perf_counter() - began < 20
