"""Moving a staged run folder into ``runs/<run_id>`` durably, and back when the commit fails.

The move is the first half of a commit (:meth:`storage.store.ResultStore.commit_run`):
every staged file and folder is fsynced, then one ``rename`` puts the folder in
place, then ``runs/`` itself is fsynced. A folder already at ``runs/<run_id>``
(an earlier commit of the id) is first renamed aside and comes back if anything
later fails. When ``runs/`` is on another filesystem than the staging folder (a
bind mount: ``rename`` fails with EXDEV), the folder is first copied next to
``runs/<run_id>`` on that filesystem and renamed from there, so the swap is
still one atomic rename.

Temporary folders are named ``runs/.vigil+<run>+<token>+<kind>``; only a crash
mid-commit leaves one, and :func:`storage.run_lock.sweep_staging` removes it.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from suite.errors import VigilError


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` (and ``root`` itself) to disk."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename is durable only once its folder is)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a folder, raising the first OSError itself (``shutil.copytree`` folds them into one without an errno)."""
    for folder, _dirs, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy2(Path(folder) / name, here / name)


def describe(error: OSError) -> str:
    """``EROFS (Read-only file system)``: an OSError as its errno name and text."""
    name = errno.errorcode.get(error.errno or 0, "OSError")
    return f"{name} ({error.strerror or error})"


@dataclass
class Promotion:
    """A staged folder moved into place; :meth:`rollback` undoes it, :meth:`finish` drops the old copy."""

    staging: Path
    final: Path
    replaced: Path | None = None
    copied: bool = False

    def rollback(self) -> None:
        """Put things back as they were before :func:`promote` (staging kept for a retry)."""
        if self.final.exists():
            if self.copied:
                doomed = self.final.with_name(f"{_prefix(self.final)}{uuid.uuid4().hex}+failed")
                os.replace(self.final, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            else:
                os.replace(self.final, self.staging)
        if self.replaced is not None:
            os.replace(self.replaced, self.final)
        fsync_dir(self.final.parent)

    def finish(self) -> None:
        """The commit held: remove the replaced folder (and the staged original of a copy)."""
        if self.replaced is not None:
            shutil.rmtree(self.replaced, ignore_errors=True)
        if self.copied:
            shutil.rmtree(self.staging, ignore_errors=True)


def _prefix(final: Path) -> str:
    return f".vigil+{final.name}+"


def promote(run_id: str, staging: Path, final: Path) -> Promotion | None:
    """Durably move ``staging`` to ``final``, setting aside a folder already there.

    Returns:
        The promotion to finish or roll back, or None when nothing was staged
        (a run whose tasks wrote no files keeps any folder it had).

    Raises:
        VigilError: the move failed (read-only or full filesystem, permissions);
            ``final`` and ``staging`` are as they were.
    """
    if not staging.is_dir():
        return None
    promotion = Promotion(staging=staging, final=final)
    incoming: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fsync_tree(staging)
        if final.exists():
            promotion.replaced = final.with_name(f"{_prefix(final)}{uuid.uuid4().hex}+replaced")
            os.replace(final, promotion.replaced)
        try:
            os.replace(staging, final)
        except OSError as error:
            if error.errno != errno.EXDEV:  # another filesystem, or a bind mount of this one
                raise
            incoming = final.with_name(f"{_prefix(final)}{uuid.uuid4().hex}+incoming")
            _copy_tree(staging, incoming)
            fsync_tree(incoming)
            os.replace(incoming, final)
            promotion.copied = True
        fsync_dir(final.parent)
    except OSError as error:
        if incoming is not None:
            shutil.rmtree(incoming, ignore_errors=True)
        if promotion.replaced is not None and not final.exists():
            os.replace(promotion.replaced, final)
        raise VigilError(f"run {run_id!r}: could not move its artifacts into {final}: {describe(error)}; nothing was recorded") from error
    return promotion
