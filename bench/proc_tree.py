"""The memory of a process and of its tree, read from Linux's /proc while it runs (for the benches)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


def _proc_field_kb(pid: int, file: str, field: str) -> int:
    """A ``field: N kB`` line of /proc/<pid>/<file>; 0 when the process is gone or the field absent."""
    try:
        with open(f"/proc/{pid}/{file}") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, their children …), by the PPid each process reports."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


@dataclass
class TreeWatch:
    """Peaks of one process (the driver) and of a process tree (``root``'s, by default the driver's), sampled while it runs."""

    pid: int
    root: int | None = None
    driver_peak_kb: int = 0
    driver_now_kb: int = 0
    tree_peak_kb: int = 0
    processes: int = 0

    def sample(self, tree: bool) -> None:
        """Read the driver's ``VmHWM`` (its own high-water mark) and, when ``tree``, the summed PSS of it and its descendants."""
        self.driver_peak_kb = max(self.driver_peak_kb, _proc_field_kb(self.pid, "status", "VmHWM"))
        self.driver_now_kb = _proc_field_kb(self.pid, "status", "VmRSS")
        if tree:
            root = self.pid if self.root is None else self.root
            pids = [root, *descendants(root)]
            self.processes = len(pids)
            self.tree_peak_kb = max(self.tree_peak_kb, sum(_proc_field_kb(p, "smaps_rollup", "Pss") for p in pids))


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and everything below it, found before any dies (so none is re-parented out of reach).

    ``pid`` first: killed after its children, it could see them end and exit on its own first.
    """
    below = descendants(pid)
    for target in [pid, *below]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
