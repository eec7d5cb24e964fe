"""Stage 5: commit the run — staged Parquet first, then one index transaction.

The run becomes visible only when the index commit succeeds; re-running with the
same run id replaces the earlier results instead of adding a second copy.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pipeline.evaluate.decide import Decision
from pipeline.evaluate.infer import staged_placements
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import staged_results_path
from storage.frames import read_frame
from storage.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord
from storage.recovery import recover_commits
from storage.run_folders import describe
from storage.run_lock import CLAIM_MARKER, run_lock, sweep_staging
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings, pause_for_tests


def run_record(plan: RunPlan, decision: Decision, settings: Settings, artifacts: list[ArtifactRecord]) -> RunRecord:
    """The index record of a finished run, with its provenance."""
    provenance = {**plan.provenance, "ray_address": settings.ray_address or "local", "placements": staged_placements(plan, settings)}
    return RunRecord(
        run_id=plan.run_id,
        suite=plan.suite_name,
        suite_hash=plan.suite_hash,
        started_at=plan.started_at,
        finished_at=datetime.now(UTC),
        status="completed",
        verdict=decision.verdict,
        trigger=plan.trigger,
        provenance=provenance,
        models=[ModelVersionRecord(name=m.name, sha256=m.sha256, format=m.format, path=m.path, role=m.role, version=m.version) for m in plan.models],
        datasets=[DatasetVersionRecord(name=d.name, sha256=d.sha256, rows=d.rows, source=d.source) for d in plan.datasets],
        artifacts=artifacts,
    )


def persist_run(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    """Write the gate evidence beside the results and commit the run; returns the run id."""
    pause_for_tests("persist", settings.home)
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    if not (staging / "gates.json").is_file():
        (staging / "gates.json").write_text(json.dumps(decision.model_dump(mode="json"), indent=2))
    final = settings.runs_dir / plan.run_id
    artifacts = [ArtifactRecord(kind="gates", uri=(final / "gates.json").as_uri(), description="gate outcomes with evidence")]
    artifacts += [ArtifactRecord(kind=p.stem, uri=(final / p.name).as_uri(), description=p.name) for p in sorted(staging.glob("*.html"))]
    if (staging / "drift.parquet").is_file():
        artifacts.append(ArtifactRecord(kind="drift_table", uri=(final / "drift.parquet").as_uri(), description="drift per dataset × column"))
    results = read_frame(staged_results_path(store, plan.run_id))
    (staging / CLAIM_MARKER).unlink(missing_ok=True)  # the marker is for the sweep, not part of the run
    store.commit_run(run_record(plan, decision, settings, artifacts), results)
    return plan.run_id


def discard_run(plan_run_id: str, settings: Settings) -> None:
    """Remove a failed run's staging folder so nothing half-made is left behind."""
    shutil.rmtree(ResultStore(settings).staging_dir(plan_run_id), ignore_errors=True)


@contextmanager
def claim_run(run_id: str, settings: Settings) -> Iterator[None]:
    """Hold ``run_id`` for a whole run: its lock, a clean staging folder, a writable ``runs/``.

    On entry: takes the run id's lock (:func:`storage.run_lock.run_lock`;
    re-entrant within a process), removes staging left by crashed runs of any
    id, settles commits a crash interrupted (:mod:`storage.recovery`), removes
    whatever an earlier attempt at this id staged, checks that
    ``runs/`` accepts a new folder (a read-only or missing mount fails before
    any work instead of at the commit), and marks the new staging folder as
    claimed so a later sweep may remove it once this process is gone.

    Raises:
        VigilError: the id is already running (with the holder's pid), or
            ``runs/`` is not writable.
    """
    with run_lock(settings, run_id):
        sweep_staging(settings)
        recover_commits(ResultStore(settings), mine=run_id)
        discard_run(run_id, settings)
        probe = settings.runs_dir / f".probe-{uuid.uuid4().hex}"
        try:
            settings.runs_dir.mkdir(parents=True, exist_ok=True)
            os.mkdir(probe)
            os.rmdir(probe)
        except OSError as error:
            raise VigilError(f"run {run_id!r}: runs folder {settings.runs_dir}: expected a writable folder, got {describe(error)}") from error
        staging = ResultStore(settings).staging_dir(run_id)
        staging.mkdir(parents=True, exist_ok=True)
        (staging / CLAIM_MARKER).write_text(f"{os.getpid()}\n")
        yield
