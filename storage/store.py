"""The result store: Parquet files for results and predictions, a SQL index for runs.

Layout under ``VIGIL_HOME``::

    results/suite=<suite>/date=<YYYY-MM-DD>/run-<run_id>.parquet   long-format results
    runs/<run_id>/predictions/<dataset>/<model>/<variant>.parquet    committed predictions
    staging/<run_id>/...                                             a run still in progress

Names in paths are percent-encoded (``gaussian_noise:3`` → ``gaussian_noise%3A3``).

A commit writes the run's results Parquet first (temporary file, then
``os.replace``) and then the index in ONE short transaction. A run exists for
readers only once that transaction commits; if it fails, the Parquet written
for the attempt is removed (or the previous file restored). Committing a run id
again replaces the run: its old index rows go in the same transaction, and an
older results file in another date partition is removed after the commit.

Example:
    >>> store = ResultStore(load_settings(home=tmp))          # doctest: +SKIP
    >>> store.commit_run(run, results)                         # doctest: +SKIP
    >>> store.history(suite="digits", metric="accuracy")       # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import open_index, write_connection_options
from storage.models import Artifact, DatasetVersion, MetricSummary, ModelVersion, Run
from storage.parquet import path_segment, restore_parquet, write_parquet_atomic
from storage.records import (
    RESULT_COLUMNS,
    ArtifactRecord,
    DatasetVersionRecord,
    ModelVersionRecord,
    RunRecord,
)
from suite.errors import VigilError
from suite.ids import check_run_id
from suite.settings import Settings

_TEXT_COLUMNS = (
    "run_id", "suite", "suite_hash", "dataset", "model", "model_sha", "role", "variant", "slice", "metric", "metric_version",
)
_FLOAT_COLUMNS = ("value", "ci_low", "ci_high")
_FILLED_FROM_RUN = ("run_id", "suite", "suite_hash")
_CHILD_TABLES = (MetricSummary, ModelVersion, DatasetVersion, Artifact)


class ResultStore:
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

    # ---- predictions -------------------------------------------------------------------
    def staging_dir(self, run_id: str) -> Path:
        """Folder where a run's tasks write predictions and artifacts before commit."""
        return self.settings.home / "staging" / check_run_id(run_id)

    def _run_dir(self, run_id: str) -> Path:
        return self.settings.run_dir(run_id)

    @staticmethod
    def _predictions_relpath(dataset: str, model: str, variant: str) -> Path:
        return (
            Path("predictions")
            / path_segment(dataset, "dataset")
            / path_segment(model, "model")
            / f"{path_segment(variant, 'variant')}.parquet"
        )

    def write_predictions(self, run_id: str, dataset: str, model: str, variant: str, frame: pd.DataFrame) -> str:
        """Write one (dataset, model, variant) predictions frame into the run's staging folder.

        Args:
            run_id: The run being evaluated.
            dataset: Dataset name.
            model: Model name.
            variant: ``clean`` or ``<perturbation>:<severity>``.
            frame: ``sample_id``, ``y_true``, ``y_pred`` and ``score_<k>`` columns.

        Returns:
            A ``file://`` URI of the staged file, valid until the run is committed;
            :meth:`read_predictions` finds the file before and after commit.
        """
        if "sample_id" not in frame.columns:
            raise VigilError(
                f"predictions for run {run_id!r} {dataset}/{model}/{variant}: expected a sample_id column, "
                f"got columns {list(frame.columns)}"
            )
        target = self.staging_dir(run_id) / self._predictions_relpath(dataset, model, variant)
        backup = write_parquet_atomic(frame, target)
        if backup is not None:
            backup.unlink()
        return target.as_uri()

    def read_predictions(self, run_id: str, dataset: str, model: str, variant: str) -> pd.DataFrame:
        """The predictions frame of one (dataset, model, variant) of a run.

        A run still in progress (staged) is read first, so a run's own tasks see
        what they wrote; otherwise the committed run folder.

        Raises:
            VigilError: the run has no such predictions.
        """
        relpath = self._predictions_relpath(dataset, model, variant)
        for root in (self.staging_dir(run_id), self._run_dir(run_id)):
            if (root / relpath).is_file():
                return pd.read_parquet(root / relpath)
        raise VigilError(f"run {run_id!r}: expected predictions for {dataset}/{model}/{variant}, found none")

    # ---- commit ------------------------------------------------------------------------
    def results_path(self, run: RunRecord) -> Path:
        """Where ``run``'s results Parquet lives (its suite and UTC start date partition)."""
        day = _as_utc(run.started_at).date().isoformat()
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
            VigilError: ``results`` lack columns or name another run, or the
                index refuses them (e.g. two rows for one key); nothing is
                visible afterwards, and an earlier commit of the run is kept.
        """
        frame = _normalise_results(run, results)
        run = run.model_copy(update={"artifacts": [self._committed_artifact(run.run_id, a) for a in run.artifacts]})
        target = self.results_path(run)
        backup = write_parquet_atomic(frame, target)
        try:
            self._write_index(run, frame)
        except BaseException as error:
            restore_parquet(target, backup)
            if isinstance(error, IntegrityError):
                reason = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
                raise VigilError(f"run {run.run_id!r}: the index refused the results: {reason}") from error
            raise
        if backup is not None:
            backup.unlink(missing_ok=True)
        self._remove_other_results(run.run_id, keep=target)
        self._promote_staging(run.run_id)

    def _write_index(self, run: RunRecord, frame: pd.DataFrame) -> None:
        run_row = {
            "run_id": run.run_id,
            "suite": run.suite,
            "suite_hash": run.suite_hash,
            "status": run.status,
            "verdict": run.verdict,
            "trigger": run.trigger,
            "started_at": _as_utc(run.started_at),
            "finished_at": _as_utc(run.finished_at) if run.finished_at else None,
            "provenance": json.loads(json.dumps(run.provenance, default=str)),
        }
        metric_rows = _metric_rows(frame)
        writer = self.engine.execution_options(**write_connection_options())
        with Session(writer) as session:
            for table in _CHILD_TABLES:
                session.exec(delete(table).where(col(table.run_id) == run.run_id))
            session.exec(delete(Run).where(col(Run.run_id) == run.run_id))
            session.exec(insert(Run).values(**run_row))
            _insert_many(session, ModelVersion, run.run_id, (m.model_dump() for m in run.models))
            _insert_many(session, DatasetVersion, run.run_id, (d.model_dump() for d in run.datasets))
            _insert_many(session, Artifact, run.run_id, (a.model_dump() for a in run.artifacts))
            if metric_rows:
                session.exec(insert(MetricSummary), params=metric_rows)
            session.commit()

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

    def _promote_staging(self, run_id: str) -> None:
        """Move the staged folder into ``runs/<run_id>``; a run without staging keeps its folder."""
        staging, final = self.staging_dir(run_id), self._run_dir(run_id)
        if not staging.is_dir():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        replaced = None
        if final.exists():
            replaced = final.with_name(f".replaced-{final.name}-{uuid.uuid4().hex}")
            os.replace(final, replaced)
        os.replace(staging, final)
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)

    # ---- reads -------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRecord | None:
        """The committed run with this id (any status), or None."""
        with Session(self.engine) as session:
            row = session.exec(select(Run).where(Run.run_id == run_id)).first()
            return _records(session, [row])[0] if row else None

    def list_runs(self, suite: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Committed runs (any status), newest first, optionally of one suite."""
        query = select(Run)
        if suite is not None:
            query = query.where(Run.suite == suite)
        query = query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(limit)
        with Session(self.engine) as session:
            return _records(session, list(session.exec(query).all()))

    def last_run(self, suite: str, *, verdict: str | None = None, before: datetime | None = None) -> RunRecord | None:
        """The newest completed run of ``suite``, optionally with ``verdict`` and started before ``before``."""
        query = select(Run).where(Run.suite == suite, Run.status == "completed")
        if verdict is not None:
            query = query.where(Run.verdict == verdict)
        if before is not None:
            query = query.where(col(Run.started_at) < _as_utc(before))
        query = query.order_by(col(Run.started_at).desc(), col(Run.id).desc()).limit(1)
        with Session(self.engine) as session:
            row = session.exec(query).first()
            return _records(session, [row])[0] if row else None

    def run_results(self, run_id: str) -> pd.DataFrame:
        """The committed results rows of one run (columns of ``RESULT_COLUMNS``); empty if none."""
        query = select(MetricSummary).where(MetricSummary.run_id == run_id).order_by(col(MetricSummary.id))
        with Session(self.engine) as session:
            rows = [row.model_dump() for row in session.exec(query).all()]
        frame = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "id"]).drop(columns="id")
        return _typed(frame)

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

        Returns:
            Columns ``run_id, started_at, verdict, dataset, model, model_sha, role, variant,
            slice, metric, metric_version, value, ci_low, ci_high, n``. Compare values only
            within one ``metric_version``.
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
                   "slice", "metric", "metric_version", "value", "ci_low", "ci_high", "n"]
        with Session(self.engine) as session:
            rows = [
                {**summary.model_dump(), "started_at": _as_utc(started_at), "verdict": verdict}
                for summary, started_at, verdict in session.exec(query).all()
            ]
        frame = pd.DataFrame(rows, columns=columns)
        frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
        return frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64", "n": "int64"})

    def scan_results(self, suite: str | None = None) -> pd.DataFrame:
        """All results rows in the Parquet dataset that belong to completed, committed runs.

        For bulk analysis; files of runs the index does not list as completed
        (an attempt in flight, a failed commit's leftovers) are skipped.
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
            return _typed(pd.DataFrame(columns=list(RESULT_COLUMNS)))
        return pd.concat(frames, ignore_index=True)


# ---- helpers ---------------------------------------------------------------------------
def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for name in _TEXT_COLUMNS:
        frame[name] = frame[name].astype(str)
    for name in _FLOAT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame[list(RESULT_COLUMNS)]


def _normalise_results(run: RunRecord, results: pd.DataFrame) -> pd.DataFrame:
    if results.empty:  # e.g. a failed run that scored nothing
        return _typed(pd.DataFrame(columns=list(RESULT_COLUMNS)))
    frame = results.copy()
    for name in _FILLED_FROM_RUN:
        if name not in frame.columns:
            frame[name] = getattr(run, name)
    if "created_at" not in frame.columns:
        frame["created_at"] = datetime.now(UTC)
    missing = [name for name in RESULT_COLUMNS if name not in frame.columns]
    if missing:
        raise VigilError(f"results of run {run.run_id!r}: expected columns {list(RESULT_COLUMNS)}, missing {missing}")
    empty = [name for name in (*_TEXT_COLUMNS, "n", "created_at") if frame[name].isna().any()]
    if empty:
        raise VigilError(f"results of run {run.run_id!r}: expected values in every row, got nulls in {empty}")
    for name in _FILLED_FROM_RUN:
        others = sorted(set(frame[name].astype(str)) - {getattr(run, name)})
        if others:
            expected = getattr(run, name)
            raise VigilError(f"results of run {run.run_id!r}: {name}: expected {expected!r}, got {others[:3]}")
    return _typed(frame)


def _metric_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        row["n"] = int(row["n"])
        row["created_at"] = _as_utc(row["created_at"].to_pydatetime())
        for name in _FLOAT_COLUMNS:
            row[name] = None if row[name] is None else float(row[name])
    return rows


def _insert_many(session: Session, table: type, run_id: str, rows: Iterable[dict[str, Any]]) -> None:
    values = [{**row, "run_id": run_id} for row in rows]
    if values:
        session.exec(insert(table), params=values)


def _records(session: Session, runs: list[Run]) -> list[RunRecord]:
    """RunRecords for ``runs``, fetching their children in one query per table."""
    ids = [run.run_id for run in runs]
    children: dict[type, dict[str, list[Any]]] = {}
    for table in (ModelVersion, DatasetVersion, Artifact):
        grouped: dict[str, list[Any]] = {run_id: [] for run_id in ids}
        for row in session.exec(select(table).where(col(table.run_id).in_(ids)).order_by(col(table.id))).all():
            grouped[row.run_id].append(row)
        children[table] = grouped
    models, datasets, artifacts = children[ModelVersion], children[DatasetVersion], children[Artifact]
    return [
        RunRecord(
            run_id=run.run_id,
            suite=run.suite,
            suite_hash=run.suite_hash,
            started_at=_as_utc(run.started_at),
            finished_at=_as_utc(run.finished_at) if run.finished_at else None,
            status=run.status,  # type: ignore[arg-type]
            verdict=run.verdict,  # type: ignore[arg-type]
            trigger=run.trigger,
            provenance=run.provenance,
            models=[ModelVersionRecord(**_fields(row, ModelVersionRecord)) for row in models[run.run_id]],
            datasets=[DatasetVersionRecord(**_fields(row, DatasetVersionRecord)) for row in datasets[run.run_id]],
            artifacts=[ArtifactRecord(**_fields(row, ArtifactRecord)) for row in artifacts[run.run_id]],
        )
        for run in runs
    ]


def _fields(row: Any, record: type) -> dict[str, Any]:
    return {name: getattr(row, name) for name in record.model_fields}
