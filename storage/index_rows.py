"""Rows of the run index: results frames typed and checked, runs written and read back.

The pure half of :mod:`storage.store`: turning a results frame and a
:class:`~storage.records.RunRecord` into index rows and back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd
from sqlalchemy import Engine, delete, insert
from sqlmodel import Session, col, select

from storage.models import Artifact, DatasetVersion, MetricSummary, ModelVersion, Run
from storage.records import LEGACY_CI_METHOD, RESULT_COLUMNS, ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord
from suite.errors import VigilError

_TEXT_COLUMNS = (
    "run_id", "suite", "suite_hash", "dataset", "model", "model_sha", "role", "variant", "slice", "metric", "metric_version",
)
_FLOAT_COLUMNS = ("value", "ci_low", "ci_high")
_FILLED_FROM_RUN = ("run_id", "suite", "suite_hash")
_OPTIONAL_COLUMNS = ("ci_method",)  # absent from frames written before they existed
_CHILD_TABLES = (MetricSummary, ModelVersion, DatasetVersion, Artifact)


def write_run_rows(writer: Engine, run: RunRecord, frame: pd.DataFrame) -> None:
    """Replace ``run``'s rows in every index table, in ONE transaction on ``writer``."""
    run_row = {
        "run_id": run.run_id,
        "suite": run.suite,
        "suite_hash": run.suite_hash,
        "status": run.status,
        "verdict": run.verdict,
        "trigger": run.trigger,
        "started_at": as_utc(run.started_at),
        "finished_at": as_utc(run.finished_at) if run.finished_at else None,
        "provenance": json.loads(json.dumps(run.provenance, default=str)),
    }
    summaries = metric_rows(frame)
    with Session(writer) as session:
        for table in _CHILD_TABLES:
            session.exec(delete(table).where(col(table.run_id) == run.run_id))
        session.exec(delete(Run).where(col(Run.run_id) == run.run_id))
        session.exec(insert(Run).values(**run_row))
        insert_many(session, ModelVersion, run.run_id, (m.model_dump() for m in run.models))
        insert_many(session, DatasetVersion, run.run_id, (d.model_dump() for d in run.datasets))
        insert_many(session, Artifact, run.run_id, (a.model_dump() for a in run.artifacts))
        if summaries:
            session.exec(insert(MetricSummary), params=summaries)
        session.commit()


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are taken as UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_path(uri: str) -> Path | None:
    """The file behind a ``file://`` URI or plain path; None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(uri) if parsed.scheme == "" else None


def typed_results(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns of ``RESULT_COLUMNS`` in order and typed; an absent ``ci_method`` is all None."""
    frame = frame.copy()
    frame["ci_method"] = _optional_text(frame["ci_method"]) if "ci_method" in frame.columns else None
    for name in _TEXT_COLUMNS:
        frame[name] = frame[name].astype(str)
    for name in _FLOAT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame[list(RESULT_COLUMNS)]


def _optional_text(column: pd.Series) -> pd.Series:
    return pd.Series([None if pd.isna(v) else str(v) for v in column], index=column.index, dtype=object)


def read_ci_method(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a NULL ``ci_method`` read as :data:`~storage.records.LEGACY_CI_METHOD` where the row has a CI.

    Rows stored before the method was recorded (old Parquet files, index rows
    from before migration 0002) used the exact row bootstrap, the only method
    then; a row without any interval (e.g. a drift share) has no method and
    stays None.
    """
    frame = frame.copy()
    methods = frame["ci_method"] if "ci_method" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    has_ci = frame["ci_low"].notna() | frame["ci_high"].notna()
    frame["ci_method"] = pd.Series(
        [str(m) if not pd.isna(m) else LEGACY_CI_METHOD if ci else None for m, ci in zip(methods, has_ci, strict=True)],
        index=frame.index, dtype=object,
    )
    return frame


def normalise_results(run: RunRecord, results: pd.DataFrame) -> pd.DataFrame:
    if results.empty:  # e.g. a failed run that scored nothing
        return typed_results(pd.DataFrame(columns=list(RESULT_COLUMNS)))
    frame = results.copy()
    for name in _FILLED_FROM_RUN:
        if name not in frame.columns:
            frame[name] = getattr(run, name)
    if "created_at" not in frame.columns:
        frame["created_at"] = datetime.now(UTC)
    missing = [name for name in RESULT_COLUMNS if name not in frame.columns and name not in _OPTIONAL_COLUMNS]
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
    return typed_results(frame)


def metric_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        row["n"] = int(row["n"])
        row["created_at"] = as_utc(row["created_at"].to_pydatetime())
        for name in _FLOAT_COLUMNS:
            row[name] = None if row[name] is None else float(row[name])
    return rows


def insert_many(session: Session, table: type, run_id: str, rows: Iterable[dict[str, Any]]) -> None:
    values = [{**row, "run_id": run_id} for row in rows]
    if values:
        session.exec(insert(table), params=values)


def run_records(session: Session, runs: list[Run]) -> list[RunRecord]:
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
            started_at=as_utc(run.started_at),
            finished_at=as_utc(run.finished_at) if run.finished_at else None,
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
