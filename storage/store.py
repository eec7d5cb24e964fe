"""The result store: Parquet files for results and predictions, a SQL index for runs.

Layout under ``VIGIL_HOME``::

    results/suite=<suite>/date=<YYYY-MM-DD>/run-<run_id>.parquet   long-format results
    runs/<run_id>/predictions/<dataset>/<model>/<variant>.parquet    committed predictions
    staging/<run_id>/...                                             a run still in progress

Names in paths are percent-encoded (``gaussian_noise:3`` → ``gaussian_noise%3A3``).

A commit puts the artifacts in place first and makes the run visible last:

1. the staged folder is fsynced and renamed to ``runs/<run_id>`` (an earlier
   commit's folder set aside; :mod:`storage.run_folders`);
2. the results Parquet is written (temporary file, fsync, ``os.replace``), then
   the run's manifest (:mod:`storage.manifest`) into its folder;
3. ONE short index transaction adds the run (retried on a lost connection).

A run exists for readers only once that transaction commits; if any step
fails, the earlier ones are undone (folder moved back to staging, previous
folder and Parquet restored) and a one-line :class:`VigilError` says why.
Committing a run id again replaces the run: its old index rows go in the same
transaction, and an older results file in another date partition is removed
after the commit. The commit holds the run id's lock (:mod:`storage.run_lock`).

Example:
    >>> store = ResultStore(load_settings(home=tmp))          # doctest: +SKIP
    >>> store.commit_run(run, results)                         # doctest: +SKIP
    >>> store.history(suite="digits", metric="accuracy")       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from storage.db import open_index, write_connection_options
from storage.index_rows import (
    as_utc, local_path, normalise_results, read_ci_method, run_records, typed_results, write_run_rows,
)
from storage.manifest import MANIFEST_KEY, write_manifest
from storage.models import Artifact, MetricSummary, Run
from storage.parquet import path_segment, restore_parquet, write_parquet_atomic
from storage.predictions import PredictionFiles
from storage.records import RESULT_COLUMNS, ArtifactRecord, RunRecord
from storage.run_folders import describe, fsync_dir, promote
from storage.run_lock import run_lock
from suite.errors import VigilError
from suite.ids import check_run_id
from suite.settings import Settings, pause_for_tests

COMMIT_KEY = "commit"
"""The provenance key holding the token of the commit that wrote a run (see :mod:`storage.run_folders`)."""
_INDEX_RETRY_PAUSES_S = (0.5, 1.0, 2.0, 4.0)  # ~7.5 s: a restarting Postgres is back well within it
log = logging.getLogger(__name__)


class ResultStore(PredictionFiles):
    """Reads and writes runs under one :class:`~suite.settings.Settings`.

    The index is opened (and migrated to head) on first use, once per store,
    and the store may be shared by threads.

    Args:
        settings: Where results live (``home``) and which index to use (``index_url``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    # ---- the index ---------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The index engine, opened and migrated on first use."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = open_index(self.settings.index_url)
            return self._engine

    def close(self) -> None:
        """Release the index's connections; the store reopens it when used again."""
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # ---- folders ---------------------------------------------------------------------
    def staging_dir(self, run_id: str) -> Path:
        """Folder where a run's tasks write predictions and artifacts before commit."""
        return self.settings.home / "staging" / check_run_id(run_id)

    def _run_dir(self, run_id: str) -> Path:
        return self.settings.run_dir(run_id)

    # ---- commit ------------------------------------------------------------------------
    def results_path(self, run: RunRecord) -> Path:
        """Where ``run``'s results Parquet lives (its suite and UTC start date partition)."""
        day = as_utc(run.started_at).date().isoformat()
        return (
            self.settings.results_dir
            / f"suite={path_segment(run.suite, 'suite')}"
            / f"date={day}"
            / f"run-{path_segment(run.run_id, 'run_id')}.parquet"
        )

    def commit_run(self, run: RunRecord, results: pd.DataFrame) -> None:
        """Make ``run`` and its results visible at once, replacing any run with the same id.

        Args:
            run: The run's record. Artifact paths under :meth:`staging_dir` are
                rewritten to the committed run folder.
            results: Long-format rows with the columns of
                :data:`storage.records.RESULT_COLUMNS`; ``run_id``, ``suite`` and
                ``suite_hash`` are filled from ``run`` when absent, ``created_at``
                with now. May be empty (a failed run that scored nothing).

        Raises:
            VigilError: ``results`` lack columns or name another run, the
                index refuses them (e.g. two rows for one key) or stays
                unreachable, or the files cannot be moved or written (EROFS,
                ENOSPC, EACCES); nothing is visible afterwards, the staged
                folder is back in staging and an earlier commit of the run is kept.
            storage.run_lock.RunBusyError: another process is running this id.
        """
        frame = normalise_results(run, results)
        token = uuid.uuid4().hex
        run = run.model_copy(update={"artifacts": [self._committed_artifact(run.run_id, a) for a in run.artifacts]})
        target = self.results_path(run)
        with run_lock(self.settings, run.run_id):
            promotion = promote(run.run_id, self.staging_dir(run.run_id), self._run_dir(run.run_id), token)
            if promotion is not None:  # a moved folder is told from a crashed commit's by this token (storage.recovery)
                run = run.model_copy(update={"provenance": {**run.provenance, COMMIT_KEY: token}})
            try:
                pause_for_tests("commit", self.settings.home)
                backup = self._write_results(run.run_id, frame, target)
                try:
                    if promotion is not None:  # every file is final: list them, and the list's hash goes in the index row
                        run = run.model_copy(update={"provenance": {**run.provenance, MANIFEST_KEY: write_manifest(self.settings.home, promotion.final, target)}})
                    self._write_index_retrying(run, frame)
                except BaseException:
                    restore_parquet(target, backup)
                    raise
            except BaseException:
                if promotion is not None:
                    promotion.rollback()
                raise
            if promotion is not None:
                promotion.finish()
            if backup is not None:
                backup.unlink(missing_ok=True)
            self._remove_other_results(run.run_id, keep=target)

    def _write_results(self, run_id: str, frame: pd.DataFrame, target: Path) -> Path | None:
        try:
            backup = write_parquet_atomic(frame, target)
            fsync_dir(target.parent)
        except OSError as error:
            raise VigilError(f"run {run_id!r}: could not write its results to {target}: {describe(error)}; nothing was recorded") from error
        return backup

    def _write_index_retrying(self, run: RunRecord, frame: pd.DataFrame) -> None:
        """One index transaction, retried while the database is unreachable (e.g. restarting)."""
        for attempt, pause in enumerate((*_INDEX_RETRY_PAUSES_S, None)):
            try:
                self._write_index(run, frame)
                return
            except IntegrityError as error:
                reason = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
                raise VigilError(f"run {run.run_id!r}: the index refused the results: {reason}") from error
            except OperationalError as error:
                if pause is None or not _transient(error):
                    reason = (str(error.orig) if error.orig is not None else str(error)).strip().splitlines()[0]
                    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    raise VigilError(
                        f"run {run.run_id!r}: the index at {self._safe_url()} did not take the commit after {tries} ({reason}); nothing was recorded"
                    ) from error
                log.warning("run %s: index write failed (%s); retrying in %.1f s", run.run_id, type(error).__name__, pause)
                time.sleep(pause)

    def _safe_url(self) -> str:
        return make_url(self.settings.index_url).render_as_string(hide_password=True)

    def _write_index(self, run: RunRecord, frame: pd.DataFrame) -> None:
        write_run_rows(self.engine.execution_options(**write_connection_options()), run, frame)

    def _committed_artifact(self, run_id: str, artifact: ArtifactRecord) -> ArtifactRecord:
        staging, final = self.staging_dir(run_id), self._run_dir(run_id)
        is_uri = artifact.uri.startswith("file://")
        path = Path(artifact.uri.removeprefix("file://"))
        if not path.is_relative_to(staging):
            return artifact
        moved = final / path.relative_to(staging)
        return artifact.model_copy(update={"uri": moved.as_uri() if is_uri else str(moved)})

    def _remove_other_results(self, run_id: str, keep: Path) -> None:
        name = f"run-{path_segment(run_id, 'run_id')}.parquet"
        for stale in self.settings.results_dir.glob(f"suite=*/date=*/{name}"):
            if stale != keep:
                stale.unlink(missing_ok=True)

    # ---- reads -------------------------------------------------------------------------
    def broken_runs(self, run_ids: Iterable[str]) -> dict[str, Path]:
        """Runs among ``run_ids`` that the index lists but whose files under ``runs/<run_id>`` are gone.

        A commit never makes such a run (files go in place before the index
        row); a folder removed by hand or a lost disk does. Readers show these
        runs as ``broken`` instead of reading their files.

        Returns:
            run id -> its first missing file.
        """
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        with Session(self.engine) as session:
            rows = session.exec(select(Artifact.run_id, Artifact.uri).where(col(Artifact.run_id).in_(ids)).order_by(col(Artifact.id))).all()
        broken: dict[str, Path] = {}
        for run_id, uri in rows:
            path = local_path(uri)
            owned = path is not None and path.is_relative_to(self._run_dir(run_id))  # files elsewhere are not Vigil's to vouch for
            if run_id not in broken and owned and not path.exists():
                broken[run_id] = path
        return broken

    def get_run(self, run_id: str) -> RunRecord | None:
        """The committed run with this id (any status), or None."""
        with Session(self.engine) as session:
            row = session.exec(select(Run).where(Run.run_id == run_id)).first()
            return run_records(session, [row])[0] if row else None

    def list_runs(self, suite: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Committed runs (any status), newest first, optionally of one suite."""
        query = select(Run)
        if suite is not None:
            query = query.where(Run.suite == suite)
        query = query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(limit)
        with Session(self.engine) as session:
            return run_records(session, list(session.exec(query).all()))

    def last_run(self, suite: str, *, verdict: str | None = None, before: datetime | None = None) -> RunRecord | None:
        """The newest completed run of ``suite``, optionally with ``verdict`` and started before ``before``."""
        query = select(Run).where(Run.suite == suite, Run.status == "completed")
        if verdict is not None:
            query = query.where(Run.verdict == verdict)
        if before is not None:
            query = query.where(col(Run.started_at) < as_utc(before))
        query = query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(1)
        with Session(self.engine) as session:
            row = session.exec(query).first()
            return run_records(session, [row])[0] if row else None

    def run_results(self, run_id: str) -> pd.DataFrame:
        """The committed results rows of one run (``RESULT_COLUMNS``; old rows' ``ci_method`` per :func:`read_ci_method`)."""
        query = select(MetricSummary).where(MetricSummary.run_id == run_id).order_by(col(MetricSummary.id))
        with Session(self.engine) as session:
            rows = [row.model_dump() for row in session.exec(query).all()]
        frame = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "id"]).drop(columns="id")
        return read_ci_method(typed_results(frame))

    def history(
        self,
        *,
        suite: str,
        metric: str,
        model: str | None = None,
        slice: str = "all",
        variant: str = "clean",
        dataset: str | None = None,
    ) -> pd.DataFrame:
        """One metric across the completed runs of a suite, oldest to newest.

        Runs whose artifact files are gone (:meth:`broken_runs`) are left out.

        Returns:
            Columns ``run_id, started_at, verdict, dataset, model, model_sha, role, variant,
            slice, metric, metric_version, value, ci_low, ci_high, n, ci_method``. Compare
            values only within one ``metric_version``; ``ci_method`` says how each interval
            was made (``bootstrap`` for rows stored before it was recorded).
        """
        query = (
            select(MetricSummary, Run.started_at, Run.verdict)
            .join(Run, col(Run.run_id) == col(MetricSummary.run_id))
            .where(
                Run.suite == suite,
                Run.status == "completed",
                MetricSummary.metric == metric,
                MetricSummary.slice == slice,
                MetricSummary.variant == variant,
            )
        )
        if model is not None:
            query = query.where(MetricSummary.model == model)
        if dataset is not None:
            query = query.where(MetricSummary.dataset == dataset)
        query = query.order_by(col(Run.started_at), col(Run.id), col(MetricSummary.id))
        columns = ["run_id", "started_at", "verdict", "dataset", "model", "model_sha", "role", "variant",
                   "slice", "metric", "metric_version", "value", "ci_low", "ci_high", "n", "ci_method"]
        with Session(self.engine) as session:
            rows = [
                {**summary.model_dump(), "started_at": as_utc(started_at), "verdict": verdict}
                for summary, started_at, verdict in session.exec(query).all()
            ]
        broken = self.broken_runs(row["run_id"] for row in rows)
        frame = pd.DataFrame([row for row in rows if row["run_id"] not in broken], columns=columns)
        frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
        return read_ci_method(frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64", "n": "int64"}))

    def scan_results(self, suite: str | None = None) -> pd.DataFrame:
        """All results rows in the Parquet dataset that belong to completed, committed runs.

        For bulk analysis; files of runs the index does not list as completed
        (an attempt in flight, a failed commit's leftovers) are skipped. Files
        written before ``ci_method`` was stored read with it as ``bootstrap``
        (:func:`storage.index_rows.read_ci_method`).
        """
        query = select(Run.run_id).where(Run.status == "completed")
        if suite is not None:
            query = query.where(Run.suite == suite)
        with Session(self.engine) as session:
            committed = set(session.exec(query).all())
        partition = f"suite={path_segment(suite, 'suite')}" if suite is not None else "suite=*"
        pattern = f"{partition}/date=*/run-*.parquet"
        frames = [pd.read_parquet(path) for path in sorted(self.settings.results_dir.glob(pattern))]
        frames = [f[f["run_id"].isin(committed)] for f in frames if len(f)]
        if not frames:
            return read_ci_method(typed_results(pd.DataFrame(columns=list(RESULT_COLUMNS))))
        return read_ci_method(typed_results(pd.concat(frames, ignore_index=True)))


_TRANSIENT = ("connection refused", "server closed the connection", "terminating connection", "starting up",
              "shutting down", "connection is closed", "connection reset", "database is locked", "no connection to the server")


def _transient(error: OperationalError) -> bool:
    """Whether retrying may help: the server is (re)starting or dropped us, not a wrong URL or a missing database."""
    return bool(error.connection_invalidated) or any(word in str(error).lower() for word in _TRANSIENT)
