"""One process at a time per run id: an OS file lock under ``VIGIL_HOME/locks``.

A run takes ``locks/<run_id>.lock`` with :func:`fcntl.flock` when it starts and
holds it until it ends; a second run of the same id fails at once with
``run <id> is already running (pid N)``, and runs of different ids never wait
for each other. The kernel drops the lock when its process dies, even by
``kill -9``, so a crashed run never blocks the next one, and a staging folder
whose lock nobody holds is a crashed run's leftover (:func:`sweep_staging`).

Scope: one machine and one ``VIGIL_HOME`` on a local filesystem (``flock`` on
NFS is not reliable). Machines sharing a Postgres index but not a home rely on
the index instead: ``run.run_id`` is unique, so two commits of one id racing
on two machines end with one run and the other failing ("the index refused").

Within one process the lock is re-entrant (``vigil run`` takes it before
Prefect starts, and the flow takes it again): ``flock`` locks belong to open
files, so a second open in the same process would refuse its own holder.

Example:
    >>> with run_lock(settings, "nightly-42"):      # doctest: +SKIP
    ...     ...                                       # stage, commit
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.parquet import path_segment
from suite.errors import VigilError
from suite.settings import Settings

log = logging.getLogger(__name__)


class RunBusyError(VigilError):
    """Another process holds the run id's lock."""


CLAIM_MARKER = ".claimed"
"""A file in a staging folder saying a locked run owns it; :func:`sweep_staging` removes only such folders."""

# Locks this process holds: path -> (file descriptor, depth). Per process by nature (see module docstring).
_held: dict[Path, tuple[int, int]] = {}
_held_guard = threading.Lock()


def lock_path(settings: Settings, run_id: str) -> Path:
    """The lock file of ``run_id``."""
    return settings.home / "locks" / f"{path_segment(run_id, 'run_id')}.lock"


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding ``path``'s exclusive lock, or None if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _holder(path: Path) -> str:
    """The pid in the lock file, waiting briefly while a new holder has the lock but has not written it yet."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            text = path.read_text().strip()
        except OSError:
            text = ""
        if text.isdigit() and _alive(int(text)) or time.monotonic() > deadline:
            return text or "unknown"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def run_lock(settings: Settings, run_id: str) -> Iterator[None]:
    """Hold ``run_id``'s lock for the block.

    Raises:
        RunBusyError: another process holds it (its pid is in the message).
    """
    path = lock_path(settings, run_id)
    with _held_guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
        else:
            fd = _try_lock(path)
            if fd is not None:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                _held[path] = (fd, 1)
    if fd is None:
        raise RunBusyError(f"run {run_id!r} is already running (pid {_holder(path)}); wait for it or pick another --run-id")
    try:
        yield
    finally:
        with _held_guard:
            fd, depth = _held[path]
            if depth > 1:
                _held[path] = (fd, depth - 1)
            else:
                del _held[path]
                os.close(fd)  # closing the last descriptor releases the flock


def is_locked(settings: Settings, run_id: str) -> bool:
    """Whether some process (this one included) holds ``run_id``'s lock right now."""
    with lock_if_free(settings, path_segment(run_id, "run_id")) as free:
        return not free


@contextmanager
def lock_if_free(settings: Settings, segment: str) -> Iterator[bool]:
    """Hold the lock of a run id (given as its path segment) if nobody does; yields whether it got it."""
    path = settings.home / "locks" / f"{segment}.lock"
    with _held_guard:
        fd = None if path in _held else _try_lock(path)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def sweep_staging(settings: Settings) -> list[Path]:
    """Remove the staging folders of runs whose process died.

    A claimed folder (one holding :data:`CLAIM_MARKER`) is stale when nobody
    holds its run id's lock: the kernel released it when the process ended.
    Cheap: one ``flock`` attempt per folder.

    Returns:
        The folders removed.
    """
    # only folders a claimed run marked (pipeline.commit.claim_run): shadow replays and drift windows stage without the lock
    stale = [(p.parent, p.parent.name) for p in (settings.home / "staging").glob(f"*/{CLAIM_MARKER}")]
    removed = []
    for folder, segment in stale:
        with lock_if_free(settings, segment) as free:  # held while removing, so no new run of the id starts meanwhile
            if not free:
                continue
            shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        log.debug("removed %s: the run that left it is no longer running", folder)
    return removed
