"""Watch checkpoints and upstream module files; emit ``vigil.model.updated`` / ``vigil.upstream.updated`` on a change.

Files are polled (checksums, not modification times), so a file copied over with
the same bytes emits nothing, and it works on network file systems.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.events import emit_event

from pipeline.triggers.manifest import changed_entries, read_manifest
from pipeline.triggers.derive import ModelUpdate, changed_checkpoints, scan_checkpoints
from pipeline.triggers.upstream_changes import UpstreamUpdate, changed_files
from storage.archive import ModuleArchive
from suite.spec import SuiteSpec


def emit_update(update: ModelUpdate | UpstreamUpdate) -> str | None:
    """Emit the event of a model or upstream update; returns the event id (None when events are off)."""
    event = emit_event(**update.event())
    return str(event.id) if event is not None else None


def watch_upstream_once(suite: SuiteSpec, archive: ModuleArchive) -> list[UpstreamUpdate]:
    """One poll of ``suite``'s upstream files: emit for each file changed since last seen."""
    updates = changed_files(suite, archive)
    for update in updates:
        emit_update(update)
    return updates


def flush_events(timeout_s: float = 30) -> None:
    """Wait until every event emitted by this process has reached the Prefect server."""
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=timeout_s)


def scan(source: Path) -> dict[str, Any]:
    """The state of a checkpoint folder (sha256 per file) or a registry manifest (its entries)."""
    return read_manifest(source) if source.is_file() else scan_checkpoints(source)


def watch_once(source: Path, seen: dict[str, Any]) -> tuple[dict[str, Any], list[ModelUpdate]]:
    """One poll of a checkpoint folder or registry manifest: emit for what changed since ``seen``; returns the new state and the updates."""
    now = scan(source)
    updates = changed_entries(seen, now) if source.is_file() else changed_checkpoints(source, seen, now)
    for update in updates:
        emit_update(update)
    return now, updates


@flow(name="watch-checkpoints", log_prints=True)
def watch_checkpoints(directory: str, interval_s: float = 10.0, polls: int | None = None, emit_existing: bool = False) -> int:
    """Poll ``directory`` (a checkpoint folder or a registry manifest) every ``interval_s`` seconds (``polls`` times, or forever); returns events emitted."""
    root = Path(directory)
    seen = {} if emit_existing else scan(root)
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


@flow(name="watch-upstream", log_prints=True)
def watch_upstream(suite_path: str, interval_s: float = 60.0, polls: int | None = None) -> int:
    """Poll the upstream module files of the suite at ``suite_path`` (``polls`` times, or forever); returns events emitted."""
    from suite.load import load_suite
    from suite.settings import load_settings

    suite = load_suite(suite_path)
    archive = ModuleArchive(load_settings().home / "upstream")
    emitted, count = 0, 0
    while polls is None or count < polls:
        for u in watch_upstream_once(suite, archive):
            print(f"{u.module} {u.field} → {(u.sha256 or '?')[:12]}: vigil.upstream.updated")
            emitted += 1
        count += 1
        if polls is None or count < polls:
            time.sleep(interval_s)
    return emitted
