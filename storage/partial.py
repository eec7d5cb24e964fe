"""Hidden partial files: written beside their target, renamed in when whole, swept when their writer died; files in use, held.

A file that must never be seen half-written goes to ``.<name>.<32 hex>.tmp`` beside its
target and is renamed over the target when whole (:func:`os.replace`). A writer killed
by ``kill -9`` or the OOM killer cannot remove its partial file, and in the caches those
can be large (a CSV's Parquet copy, a run's predictions: GBs at 10M rows). So the writer
holds an exclusive :func:`fcntl.flock` on its partial file from the moment it creates it
until it is renamed or dropped; the kernel releases that lock when the process dies, so
:func:`sweep_partial_files` removes exactly the partial files whose writer is gone, and
never one another process is still writing.

A process that uses a file others may remove (a CSV's Parquet copy, replaced by a newer
version's) :func:`hold`\ s a shared lock on it until it ends; :func:`remove_if_unheld` removes
only files nobody holds either way.

Scope: one machine, a local filesystem (``flock`` over NFS is not reliable), like
:mod:`storage.run_lock`.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> part = PartialFile(folder / "t.parquet")
    >>> _ = part.path.write_bytes(b"whole")
    >>> sweep_partial_files(folder, grace_s=0)  # its writer (this process) still holds it
    []
    >>> part.commit().read_bytes()
    b'whole'
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

_PARTIAL = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
_GRACE_S = 60.0  # a file this fresh is left alone: its writer may not have taken its lock yet


class PartialFile:
    """A hidden partial file for ``target``, created empty and locked by this process until :meth:`commit` or :meth:`abort`.

    Writers may open :attr:`path` themselves (truncating it is fine): the lock belongs to
    this object's own descriptor and lasts until it is closed.
    """

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path = self.target.with_name(f".{self.target.name}.{uuid.uuid4().hex}.tmp")
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        _lock(self._fd, fcntl.LOCK_EX)

    def commit(self, *, fsync: bool = False) -> Path:
        """Rename the partial file over the target (after an ``fsync`` of its bytes when asked); returns the target."""
        if fsync:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(self.path, self.target)
        self._release()
        return self.target

    def abort(self) -> None:
        """Remove the partial file (if still there) and release it."""
        self.path.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def sweep_partial_files(folder: Path, *, grace_s: float = _GRACE_S) -> list[Path]:
    """Remove the partial files in ``folder`` (not below it) that no live process holds; returns them.

    A partial file modified in the last ``grace_s`` seconds is left for a later sweep: its
    writer creates it, then locks it. Cheap: one ``flock`` attempt per partial file, nothing
    for other files.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if _PARTIAL.match(e.name) and now - e.stat().st_mtime >= grace_s]
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for name in names:
        if remove_if_unheld(folder / name):
            removed.append(folder / name)
            log.debug("removed %s: the process writing it is gone", folder / name)
    return removed


def remove_if_unheld(path: Path) -> bool:
    """Remove ``path`` unless a live process holds a lock on it (a writer's exclusive one, a reader's shared one, :func:`hold`).

    Returns whether it was removed (False also when it is already gone).
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink()  # the lock is ours: nobody uses it (or it was renamed meanwhile, and the name is gone)
        return True
    except OSError:  # held; or gone; or a filesystem without locks, where nobody can tell: left alone
        return False
    finally:
        os.close(fd)


_HELD: dict[str, int] = {}  # files this process uses -> the descriptor holding their shared lock


def hold(path: Path) -> bool:
    """Hold a shared lock on ``path`` until this process ends: it is in use, :func:`remove_if_unheld` leaves it.

    Returns False when there is no such file. Holding a file twice takes one lock.
    """
    key = str(path)
    if key in _HELD:
        if path.is_file():
            return True
        os.close(_HELD.pop(key))  # removed by hand since: a new file may stand there
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    _lock(fd, fcntl.LOCK_SH)
    _HELD[key] = fd
    return True


def _lock(fd: int, kind: int) -> None:
    """Take a lock, or go on without one on a filesystem that has none (writes must not fail for it; sweeps then leave the file)."""
    try:
        fcntl.flock(fd, kind)
    except OSError as error:
        log.debug("no lock on descriptor %d: %s", fd, error)
