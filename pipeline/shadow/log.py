"""Stage a shadow request log for replay: stream it, validate each row, write valid rows and the quarantine.

The log is read a chunk at a time (:class:`evaluators.shadow.log_reader.RequestLogReader`)
and each chunk's valid rows are appended to the run's staged Parquet, so preparing a
replay holds one chunk, never the whole log.
"""

from __future__ import annotations

from pathlib import Path

from evaluators.shadow.log_decode import DEFAULT_LIMITS, LogLimits
from evaluators.shadow.log_reader import QUARANTINE_SCHEMA, LogCounts, RequestLogReader
from evaluators.shadow.log_schema import LogSchema
from storage.request_log import ParquetAppender
from suite.errors import DataError
from suite.spec import SuiteSpec


def replay_schema(suite: SuiteSpec, features: list[str], classes: list[int | str] | None, *, from_mirror: bool = False) -> LogSchema:
    """The row schema of a log replayed against the suite's candidate.

    Features are the candidate's (numbers), classes the suite's; columns of the suite's
    slices that are not features or the label are kept too (numbers for binned slices).
    """
    slice_columns = tuple((s.column, s.bins is not None) for s in suite.slices if s.column not in features and s.column != "label")
    return LogSchema(
        features=tuple(features),
        classes=tuple(classes) if classes is not None else None,
        task=suite.task,
        slice_columns=slice_columns,
        mirror=from_mirror,
        require_candidate=from_mirror,
    )


def stage_log(
    log_path: Path,
    schema: LogSchema,
    staged: Path,
    quarantine: Path,
    *,
    labels_path: str | Path | None = None,
    limits: LogLimits = DEFAULT_LIMITS,
) -> LogCounts:
    """Write the log's valid rows to ``staged`` and its quarantined rows to ``quarantine`` (Parquet), chunk by chunk.

    Raises:
        DataError: the log is unreadable, or every row was quarantined.
    """
    valid_out = ParquetAppender(staged, schema.arrow_schema())
    bad_out = ParquetAppender(quarantine, QUARANTINE_SCHEMA)
    reader = RequestLogReader(log_path, schema, labels_path=labels_path, limits=limits, quarantine=bad_out)
    try:
        for chunk in reader.chunks():
            valid_out.append_frame(chunk)
    except BaseException:
        valid_out.abort()
        bad_out.abort()
        raise
    valid_out.close()
    bad_out.close()
    counts = reader.counts
    if counts.rows_in != counts.rows_scored + counts.rows_quarantined:
        raise DataError(f"request log {log_path}: expected rows in = scored + quarantined, got {counts}")
    if counts.rows_scored == 0:
        raise DataError(f"request log {log_path}: expected valid rows, got none ({counts.rows_quarantined} quarantined: {counts.by_reason})")
    return counts
