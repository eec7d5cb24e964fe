"""How a `vigil` process ends (cli.leave): Python's exit less the interpreter's teardown, so nothing a normal exit does is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ENDING = """
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from cli.leave import leave

out = open(sys.argv[1], "w")  # left open, as a careless writer would: leave() runs no finaliser, so it is flushed by hand below
atexit.register(lambda: print("first registered, runs last", flush=True))
atexit.register(lambda: (out.write("written at exit"), out.close()))
atexit.register(lambda: print("last registered, runs first", flush=True))
pool = ThreadPoolExecutor(2)
pool.submit(lambda: None).result()  # an idle pool: its workers wait for work until Python's thread exit hooks release them
slow = threading.Thread(target=lambda: (time.sleep(0.3), print("non-daemon thread finished", flush=True)))
slow.start()
threading.Thread(target=lambda: time.sleep(600), daemon=True).start()  # a daemon thread is not waited for
sys.stdout.write("unflushed output")
leave(CODE)
"""


def _end(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ENDING.replace("CODE", code), str(tmp_path / "out.txt")], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


@pytest.mark.parametrize(("code", "status", "stderr"), [("None", 0, ""), ("0", 0, ""), ("1", 1, ""), ("2", 2, ""), ("130", 130, ""),
                                                         ("'error: bad input'", 1, "error: bad input\n")])
def test_leave_ends_as_sys_exit_would(code: str, status: int, stderr: str, tmp_path: Path) -> None:
    done = _end(code, tmp_path)
    assert done.returncode == status, done.stderr
    assert done.stderr == stderr
    assert done.stdout.splitlines() == ["unflushed outputnon-daemon thread finished", "last registered, runs first", "first registered, runs last"]
    assert (tmp_path / "out.txt").read_text() == "written at exit"


def test_the_console_script_ends_through_leave_with_the_commands_status(tmp_path: Path) -> None:
    """`vigil` with a bad suite path: one line, exit 2, the exit handlers run (the probe's), no traceback."""
    code = ("import atexit, sys\natexit.register(lambda: print('handler ran', file=sys.stderr))\nimport cli.main\n"
            f"sys.argv = ['vigil', 'run', {str(tmp_path / 'missing.yaml')!r}]\ncli.main.main()\nprint('not reached')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home"), "VIGIL_NO_SERVE": "1"})
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "handler ran"
    assert "missing.yaml" in done.stderr and "Traceback" not in done.stderr
    assert "not reached" not in done.stdout
