"""Local Ray dies with the process that started it, even on ``kill -9``.

Ray ties its own local processes (gcs_server, raylet, monitors) to the driver
with ``PR_SET_PDEATHSIG``, but the raylet's children (the dashboard and
runtime-env agents) are not: when the driver is killed they notice the raylet
is gone, then hang reporting it to the dead GCS, for minutes. Measured here:
both agents still alive 3 minutes after a ``kill -9`` of ``vigil run``.

So a local Ray started by :func:`workers.cluster.ensure_ray` gets a watchdog:
this module, run as a separate process (its own session, so a terminal's ^C
does not take it first). Every second it records the process tree under the
Ray processes it was given (pid and start time, so a reused pid is never
hit); when its stdin reaches EOF, which the kernel guarantees once the
starting process is gone, however it died, it SIGKILLs whatever it recorded
that is still alive, and exits. It never looks beyond that tree: it kills
only what this run started.

Run as ``python -m workers.reaper PID [PID ...]`` with a pipe on stdin.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

_INTERVAL_S = 1.0


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), fields[19])  # ppid, starttime (fields 4 and 22 of stat)
    return table


def process_tree(roots: set[int], table: dict[int, tuple[int, str]]) -> dict[int, str]:
    """The roots and all their descendants, with their start times."""
    found = {pid: table[pid][1] for pid in roots if pid in table}
    frontier = set(found)
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier and pid not in found}
        found.update({pid: table[pid][1] for pid in frontier})
    return found


def watch(roots: set[int]) -> None:
    """Record ``roots``' process tree until stdin closes, then SIGKILL what is left of it."""
    seen: dict[int, str] = {}
    while True:
        seen.update(process_tree(roots | set(seen), process_table()))
        seen.pop(os.getpid(), None)
        ready, _, _ = select.select([sys.stdin], [], [], _INTERVAL_S)
        if ready and not sys.stdin.buffer.read1(4096):
            break
    table = process_table()
    for pid, started in seen.items():
        if table.get(pid, (0, None))[1] == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_reaper(pids: list[int]) -> subprocess.Popen[bytes] | None:
    """Start the watchdog for ``pids`` (Linux only); keep the returned process referenced, never write to its stdin."""
    if not sys.platform.startswith("linux") or not pids:
        return None
    return subprocess.Popen([sys.executable, "-m", "workers.reaper", *map(str, pids)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            cwd=str(Path(__file__).resolve().parents[1]))


if __name__ == "__main__":
    watch({int(arg) for arg in sys.argv[1:]})
