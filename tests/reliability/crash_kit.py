"""Shared tools for the commit and crash tests: mounts, staged runs, index counts, process trees."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from storage.models import Artifact, MetricSummary, Run
from storage.records import ArtifactRecord, RunRecord
from storage.store import ResultStore
from tests.conftest import require
from tests.storage.factories import make_results, make_run

__all__ = ["make_run"]  # re-exported for the tests


@contextmanager
def mounted(target: Path, *args: str) -> Iterator[Path]:
    """``mount ARGS target`` for the block (root only: skipped off CI when refused, a failure under CI)."""
    target.mkdir(parents=True, exist_ok=True)
    done = shutil.which("mount") is not None and subprocess.run(["mount", *args, str(target)], capture_output=True).returncode == 0
    require(done, f"cannot mount {' '.join(args)} here (needs root and mount permission)")
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` as a read-only bind mount of itself for the block (root can write through chmod, not through this)."""
    with mounted(folder, "--bind", str(folder)):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
        yield folder


def stage_run(store: ResultStore, run_id: str, *, payload: bytes = b"<html></html>", day: int = 0) -> tuple[RunRecord, pd.DataFrame]:
    """A run with a staged report (``payload``) and predictions, ready for ``commit_run``."""
    staging = store.staging_dir(run_id)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "report.html").write_bytes(payload)
    store.write_predictions(run_id, "test", "mlp", "clean", pd.DataFrame({"sample_id": [1, 2], "y_true": [0, 1], "y_pred": [0, 1]}))
    run = make_run(run_id, day=day)
    run = run.model_copy(update={"artifacts": [ArtifactRecord(kind="report", uri=(staging / "report.html").as_uri())]})
    return run, make_results(run)


def index_counts(store: ResultStore) -> dict[str, int]:
    """Rows per index table (all runs)."""
    with Session(store.engine) as session:
        return {t.__tablename__: session.exec(select(func.count()).select_from(t)).one()[0] for t in (Run, MetricSummary, Artifact)}


def leftovers(store: ResultStore) -> list[str]:
    """Temporary folders a commit leaves in ``runs/`` only when it crashed (``.vigil+…``)."""
    runs = store.settings.runs_dir
    return sorted(p.name for p in runs.glob(".vigil+*")) if runs.exists() else []


def is_alive(pid: int, started: str) -> bool:
    """Whether ``pid`` still runs the same process (same start time) and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return stat[19] == started and stat[0] != "Z"


def environ_has(pid: int, marker: str) -> bool:
    """Whether a process's environment holds ``marker`` (children inherit it)."""
    try:
        return marker.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def pid_of(path: Path) -> int:
    """The pid written in a lock or pause file."""
    return int(path.read_text().split()[0])

