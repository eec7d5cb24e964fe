"""Claim a run id, and commit a finished run of any kind: evaluation, shadow replay, drift window.

Every run kind ends the same way: its staging folder holds its files, it states
what the run is (:class:`StagedRun`), and :func:`commit_staged_run` turns that
into one :class:`~storage.records.RunRecord` committed by
:meth:`storage.store.ResultStore.commit_run` (files in place first, the index row
last; the same run id again replaces the run). The rules every kind shares live
here and nowhere else:

* an artifact is recorded only if its file is in the staging folder, under its
  final ``runs/<run_id>/…`` URI;
* the claim marker (:data:`storage.run_lock.CLAIM_MARKER`) leaves the staging
  folder before the commit: it is for the staging sweep, not part of the run;
* a run that records its environment (``provenance``) records the Ray it ran
  on as ``ray_address`` (``local`` when none was configured), after those facts and
  before the kind's own section (``details``);
* ``finished_at`` is the moment of the commit and the status ``completed``.

What each kind stores (artifact kinds and descriptions, verdict, provenance
keys) stays the caller's: :mod:`pipeline.evaluate.persist`,
:mod:`pipeline.shadow.replay`, :mod:`pipeline.drift_watch.windows`.

Example:
    >>> run = StagedRun(run_id="r1", suite="digits", suite_hash="h", started_at=datetime(2026, 3, 1, tzinfo=UTC),
    ...                 trigger="manual", artifacts=[StagedArtifact(kind="gates", file="gates.json", description="gate outcomes")])
    >>> run.verdict
    'none'
    >>> commit_staged_run(run, results, settings)             # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pipeline.evaluate.plan import ModelEntry
from storage.cache import PredictionCache
from storage.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord, Verdict
from storage.recovery import recover_commits
from storage.run_folders import describe
from storage.run_lock import CLAIM_MARKER, run_lock, sweep_staging
from storage.store import ResultStore
from suite.base import Frozen
from suite.errors import VigilError
from suite.settings import Settings


class StagedArtifact(Frozen):
    """A file a run may leave in its staging folder, and how the index describes it.

    Attributes:
        kind: What it is, e.g. ``gates`` or ``drift_table``.
        file: Its path relative to the staging folder (``gates.json``).
        description: One line for humans.
    """

    kind: str
    file: str
    description: str = ""


class StagedRun(Frozen):
    """What a finished run is, as its kind states it before the commit.

    Attributes:
        run_id: The run's id; committing it again replaces the run.
        suite: Suite name.
        suite_hash: The suite's fingerprint.
        started_at: When the run started (a drift window: when its data starts).
        trigger: What started it.
        verdict: The gate verdict; ``none`` for runs without gates.
        provenance: The run's environment and inputs (:func:`storage.provenance.collect_provenance`
            and the kind's keys beside them); ``ray_address`` is added after them.
            None for a run that records no environment (no ``ray_address`` either).
        details: The kind's own facts, stored after ``ray_address`` (a shadow replay's ``shadow`` section,
            a drift window's window and signals).
        models: The model versions the run used.
        datasets: The data it read.
        artifacts: Files it may have staged, in the order the index lists them; those
            absent from the staging folder are left out.
    """

    run_id: str
    suite: str
    suite_hash: str
    started_at: datetime
    trigger: str
    verdict: Verdict = "none"
    provenance: dict[str, Any] | None = None
    details: dict[str, Any] = {}
    models: list[ModelVersionRecord] = []
    datasets: list[DatasetVersionRecord] = []
    artifacts: list[StagedArtifact] = []


def model_record(entry: ModelEntry) -> ModelVersionRecord:
    """The index record of a model as a run's plan verified it (its prediction fingerprint stays in provenance)."""
    return ModelVersionRecord(name=entry.name, sha256=entry.sha256, format=entry.format, path=entry.path, role=entry.role, version=entry.version)


def run_record(run: StagedRun, settings: Settings) -> RunRecord:
    """The :class:`RunRecord` of ``run``, finished now, with the artifacts found in its staging folder."""
    staging, final = ResultStore(settings).staging_dir(run.run_id), settings.run_dir(run.run_id)
    artifacts = [
        ArtifactRecord(kind=a.kind, uri=(final / a.file).as_uri(), description=a.description)
        for a in run.artifacts if (staging / a.file).is_file()
    ]
    if run.provenance is None:
        provenance = dict(run.details)
    else:
        provenance = {**run.provenance, "ray_address": settings.ray_address or "local", **run.details}
    return RunRecord(
        run_id=run.run_id, suite=run.suite, suite_hash=run.suite_hash, started_at=run.started_at,
        finished_at=datetime.now(UTC), status="completed", verdict=run.verdict, trigger=run.trigger,
        provenance=provenance, models=list(run.models), datasets=list(run.datasets), artifacts=artifacts,
    )


def commit_staged_run(run: StagedRun, results: pd.DataFrame, settings: Settings, store: ResultStore | None = None) -> RunRecord:
    """Commit ``run`` with its ``results`` rows and its staging folder, atomically; returns the record as built.

    Args:
        run: What the run is.
        results: Its long-format results rows (:data:`storage.records.RESULT_COLUMNS`).
        settings: Where runs are stored, and the Ray address to record.
        store: The store to commit through (default: a new one on ``settings``).

    Raises:
        VigilError: the commit failed; nothing of this attempt is visible (see
            :meth:`storage.store.ResultStore.commit_run`).
    """
    store = store or ResultStore(settings)
    record = run_record(run, settings)
    (store.staging_dir(run.run_id) / CLAIM_MARKER).unlink(missing_ok=True)  # the marker is for the sweep, not part of the run
    store.commit_run(record, results)
    return record


def discard_run(run_id: str, settings: Settings) -> None:
    """Remove a failed run's staging folder so nothing half-made is left behind."""
    shutil.rmtree(ResultStore(settings).staging_dir(run_id), ignore_errors=True)


@contextmanager
def claim_run(run_id: str, settings: Settings) -> Iterator[None]:
    """Hold ``run_id`` for a whole run: its lock, a clean staging folder, a writable ``runs/``.

    On entry: takes the run id's lock (:func:`storage.run_lock.run_lock`;
    re-entrant within a process), removes staging left by crashed runs of any
    id and predictions files they left half-written in the cache, settles commits a crash interrupted (:mod:`storage.recovery`), removes
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
        PredictionCache(settings.cache_dir).sweep_partial()
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
