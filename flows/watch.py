"""Watch checkpoints and upstream module files; emit ``vigil.model.updated`` / ``vigil.upstream.updated`` on a change.

Files are polled (checksums, not modification times), so a file copied over with
the same bytes emits nothing, and it works on network file systems.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow
from prefect.events import emit_event

from pipeline.triggers import ModelUpdate, changed_checkpoints, scan_checkpoints
from pipeline.upstream_changes import UpstreamUpdate, changed_files
from storage.archive import ModuleArchive
from suite.spec import SuiteSpec


def emit_model_updated(update: ModelUpdate) -> str | None:
    """Emit the event for ``update``; returns the event id (None when events are off)."""
    event = emit_event(**update.event())
    return str(event.id) if event is not None else None


def emit_upstream_updated(update: UpstreamUpdate) -> str | None:
    """Emit the event for ``update``; returns the event id (None when events are off)."""
    event = emit_event(**update.event())
    return str(event.id) if event is not None else None


def watch_upstream_once(suite: SuiteSpec, archive: ModuleArchive) -> list[UpstreamUpdate]:
    """One poll of ``suite``'s upstream files: emit for each file changed since last seen."""
    updates = changed_files(suite, archive)
    for update in updates:
        emit_upstream_updated(update)
    return updates


def flush_events(timeout_s: float = 30) -> None:
    """Wait until every event emitted by this process has reached the Prefect server."""
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=timeout_s)


def watch_once(directory: Path, seen: dict[str, str]) -> tuple[dict[str, str], list[ModelUpdate]]:
    """One poll: emit for what changed since ``seen``; returns the new state and the updates."""
    now = scan_checkpoints(directory)
    updates = changed_checkpoints(directory, seen, now)
    for update in updates:
        emit_model_updated(update)
    return now, updates


@flow(name="watch-checkpoints", log_prints=True)
def watch_checkpoints(directory: str, interval_s: float = 10.0, polls: int | None = None, emit_existing: bool = False) -> int:
    """Poll ``directory`` every ``interval_s`` seconds (``polls`` times, or forever); returns events emitted."""
    root = Path(directory)
    seen = {} if emit_existing else scan_checkpoints(root)
    emitted, count = 0, 0
    while polls is None or count < polls:
        seen, updates = watch_once(root, seen)
        for u in updates:
            print(f"{u.model}@{u.version} ({u.sha256[:12] if u.sha256 else '?'}): vigil.model.updated")
        emitted += len(updates)
        count += 1
        if polls is None or count < polls:
            time.sleep(interval_s)
    return emitted
