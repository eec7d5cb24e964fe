"""Moving a staged run folder into ``runs/<run_id>`` durably, and back when the commit fails.

The move is the first half of a commit (:meth:`storage.store.ResultStore.commit_run`):
every staged file and folder is fsynced, then one ``rename`` puts the folder in
place, then ``runs/`` itself is fsynced. A folder already at ``runs/<run_id>``
(an earlier commit of the id) is first renamed aside and comes back if anything
later fails. When ``runs/`` is on another filesystem than the staging folder, or
a bind mount (``rename`` fails with EXDEV), the folder is first copied next to
``runs/<run_id>`` on that filesystem and renamed from there, so the swap is
still one atomic rename.

Every commit has a token. It is written into the folder (``.vigil-commit``)
and, by the caller, into the index row; a journal entry
``runs/.vigil+<run>+<token>+journal`` exists from before the move until the
index transaction has committed or the move was undone. Temporary folders carry
the same token (``+replaced``, ``+incoming``, ``+failed``). A crash leaves the
journal behind, and :func:`storage.recovery.recover_commits` settles it: if the
index holds the token the commit landed, else it is undone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
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


TOKEN_FILE = ".vigil-commit"
"""The file in a run folder naming the commit that put it there."""


def temporary(final: Path, token: str, kind: str) -> Path:
    """``runs/.vigil+<run>+<token>+<kind>``: a commit's temporary entry beside ``final``."""
    return final.with_name(f".vigil+{final.name}+{token}+{kind}")


def folder_token(folder: Path) -> str | None:
    """The token of the commit that put ``folder`` in place, if any."""
    try:
        return (folder / TOKEN_FILE).read_text().strip()
    except OSError:
        return None


def discard(folder: Path, token: str) -> None:
    """Remove a folder, renaming it aside first so a half-removed folder is never at a run's path."""
    if folder.exists():
        doomed = temporary(folder, token, "failed")
        os.replace(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


@dataclass
class Promotion:
    """A staged folder moved into place; :meth:`rollback` undoes it, :meth:`finish` drops the old copy."""

    staging: Path
    final: Path
    token: str
    copied: bool = False

    @property
    def replaced(self) -> Path:
        return temporary(self.final, self.token, "replaced")

    @property
    def journal(self) -> Path:
        return temporary(self.final, self.token, "journal")

    def rollback(self) -> None:
        """Put things back as they were before :func:`promote` (staging kept for a retry)."""
        if folder_token(self.final) == self.token:
            if self.copied:
                discard(self.final, self.token)
            else:
                os.replace(self.final, self.staging)
        if self.replaced.exists():
            os.replace(self.replaced, self.final)
        self.journal.unlink(missing_ok=True)
        fsync_dir(self.final.parent)

    def finish(self) -> None:
        """The index holds the commit: drop the replaced folder (and the staged original of a copy), then the journal."""
        shutil.rmtree(self.replaced, ignore_errors=True)
        if self.copied:
            shutil.rmtree(self.staging, ignore_errors=True)
        self.journal.unlink(missing_ok=True)


def promote(run_id: str, staging: Path, final: Path, token: str) -> Promotion | None:
    """Durably move ``staging`` to ``final`` under commit ``token``, setting aside a folder already there.

    Returns:
        The promotion to finish or roll back, or None when nothing was staged
        (a run whose tasks wrote no files keeps any folder it had).

    Raises:
        VigilError: the move failed (read-only or full filesystem, permissions);
            ``final`` and ``staging`` are as they were.
    """
    if not staging.is_dir():
        return None
    promotion = Promotion(staging=staging, final=final, token=token)
    incoming = temporary(final, token, "incoming")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        promotion.journal.touch()
        (staging / TOKEN_FILE).write_text(token)
        fsync_tree(staging)
        fsync_dir(final.parent)
        if final.exists():
            os.replace(final, promotion.replaced)
        try:
            os.replace(staging, final)
        except OSError as error:
            if error.errno != errno.EXDEV:  # another filesystem, or a bind mount of this one
                raise
            _copy_tree(staging, incoming)
            fsync_tree(incoming)
            os.replace(incoming, final)
            promotion.copied = True
        fsync_dir(final.parent)
    except OSError as error:
        shutil.rmtree(incoming, ignore_errors=True)
        if promotion.replaced.exists() and not final.exists():
            os.replace(promotion.replaced, final)
        with contextlib.suppress(OSError):  # e.g. EROFS even for a journal never created
            promotion.journal.unlink(missing_ok=True)
        raise VigilError(f"run {run_id!r}: could not move its artifacts into {final}: {describe(error)}; nothing was recorded") from error
    return promotion
