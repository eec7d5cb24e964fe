"""Settle commits a crash interrupted: finish those the index holds, undo the rest.

A commit journals itself in ``runs/`` (:mod:`storage.run_folders`) from before
its folder moves until its index transaction is over. A journal entry whose
run id nobody holds the lock of belongs to a dead process:

- the index row carries the journal's token: the commit landed; the folder it
  replaced and any temporary copy are removed;
- it does not: the commit never became visible; the folder it moved in is
  removed and the folder it replaced (if any) goes back, so ``runs/<run_id>``
  again matches what the index says.

Other temporary entries with a dead owner (a failed commit's ``+failed``
folder half deleted) are removed. Cheap: only ``runs/.vigil+*`` is listed,
and such entries exist only after a crash.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.exc import SQLAlchemyError

from storage.parquet import path_segment
from storage.run_folders import discard, folder_token, temporary
from storage.run_lock import lock_if_free
from storage.store import COMMIT_KEY, ResultStore

log = logging.getLogger(__name__)


def recover_commits(store: ResultStore, mine: str | None = None) -> list[str]:
    """Finish or undo every interrupted commit in ``runs/``; returns one line per action taken.

    Args:
        store: The store whose ``runs/`` to settle.
        mine: A run id whose lock the caller holds, at the start of a run of
            it (so none of its commits is in flight): settled too.
    """
    runs = store.settings.runs_dir
    own = path_segment(mine, "run_id") if mine is not None else None
    actions: list[str] = []
    for journal in sorted(runs.glob(".vigil+*+*+journal")):
        _, segment, token, _ = journal.name.split("+")
        with _claimable(store, segment, own) as free:
            if not free or not journal.exists():
                continue
            try:
                actions.append(_settle(store, runs / segment, unquote(segment), token))
            except SQLAlchemyError as error:  # the index is unreachable: settle it next time, never guess
                log.warning("interrupted commit %s left for later: the index did not answer (%s)", journal.name, type(error).__name__)
                continue
            journal.unlink(missing_ok=True)
    for leftover in sorted(runs.glob(".vigil+*+*+*")):
        _, segment, token, kind = leftover.name.split("+")
        if kind == "journal" or temporary(runs / segment, token, "journal").exists():
            continue
        with _claimable(store, segment, own) as free:
            if free and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
                actions.append(f"removed {leftover.name}")
    for action in actions:
        log.debug("recovered an interrupted commit: %s", action)
    return actions


@contextmanager
def _claimable(store: ResultStore, segment: str, own: str | None) -> Iterator[bool]:
    if segment == own:
        yield True
        return
    with lock_if_free(store.settings, segment) as free:
        yield free


def _settle(store: ResultStore, final: Path, run_id: str, token: str) -> str:
    record = store.get_run(run_id)  # first: if the index cannot say, nothing is touched
    replaced, incoming = temporary(final, token, "replaced"), temporary(final, token, "incoming")
    shutil.rmtree(incoming, ignore_errors=True)
    if record is not None and record.provenance.get(COMMIT_KEY) == token:
        shutil.rmtree(replaced, ignore_errors=True)
        if folder_token(store.staging_dir(run_id)) == token:  # the staged original of a cross-device copy
            shutil.rmtree(store.staging_dir(run_id), ignore_errors=True)
        return f"run {run_id!r}: commit {token} had landed; removed the folder it replaced"
    if folder_token(final) == token:
        discard(final, token)
    if replaced.exists():
        replaced.rename(final)
    return f"run {run_id!r}: commit {token} never reached the index; undone"
