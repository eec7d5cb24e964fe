"""Read a shadow request log for replay: stream it, check each row, keep valid rows and the quarantine.

The bytes come from ``storage.request_log`` a chunk at a time and each chunk is checked
by :class:`evaluators.shadow.request_log.reader.RowChecker`, so reading a log holds one
chunk, never the whole log. :func:`stage_log` appends each chunk's valid rows to the
run's staged Parquet; :func:`read_request_log` keeps them in memory (small logs, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from evaluators.shadow.request_log.decode import DEFAULT_LIMITS, LogLimits
from evaluators.shadow.request_log.format import LABEL, QUARANTINE_COLUMNS, ROW_NUMBER
from evaluators.shadow.request_log.reader import LogCounts, ParsedLog, RowChecker, labels_by_request_id
from evaluators.shadow.request_log.rows import LogSchema
from storage.request_log import ParquetAppender, arrow_schema, iter_log_chunks, read_table_file
from suite.errors import DataError
from suite.spec import SuiteSpec


def replay_schema(suite: SuiteSpec, features: list[str], classes: list[int | str] | None, *, from_mirror: bool = False) -> LogSchema:
    """The row schema of a log replayed against the suite's candidate.

    Features are the candidate's (numbers), classes the suite's; columns of the suite's
    slices that are not features or the label are kept too (numbers for binned slices).
    """
    slice_columns = tuple((s.column, s.bins is not None) for s in suite.slices if s.column not in features and s.column != LABEL)
    return LogSchema(
        features=tuple(features),
        classes=tuple(classes) if classes is not None else None,
        task=suite.task,
        slice_columns=slice_columns,
        mirror=from_mirror,
        require_candidate=from_mirror,
    )


def checked_chunks(
    log_path: str | Path,
    checker: RowChecker,
    on_quarantine: Callable[[list[dict[str, Any]]], None],
) -> Iterator[pd.DataFrame]:
    """Frames of the log's valid rows, one per chunk read (empty chunks skipped); refused rows go to ``on_quarantine``.

    Raises:
        DataError: the log is missing or unreadable.
    """
    limits = checker.limits
    for raw_chunk in iter_log_chunks(log_path, chunk_rows=limits.chunk_rows, chunk_bytes=limits.chunk_bytes,
                                     max_line_bytes=limits.max_line_bytes):
        valid, bad = checker.check(raw_chunk)
        if bad:
            on_quarantine(bad)
        if valid is not None:
            yield valid


def row_checker(schema: LogSchema, labels_path: str | Path | None, limits: LogLimits) -> RowChecker:
    """A checker for ``schema``, with the labels file's labels when one is given."""
    labels = labels_by_request_id(read_table_file(labels_path), str(labels_path)) if labels_path is not None else None
    return RowChecker(schema, labels=labels, limits=limits)


def read_request_log(
    path: str | Path,
    schema: LogSchema,
    *,
    labels_path: str | Path | None = None,
    quarantine_path: str | Path | None = None,
    write_quarantine: bool = True,
    limits: LogLimits = DEFAULT_LIMITS,
) -> ParsedLog:
    """Read, validate and quarantine a whole log into memory (the replay itself streams with :func:`stage_log`).

    Args:
        path: a ``.parquet`` or ``.jsonl`` file, or a folder of Parquet part files.
        schema: what a row must carry.
        labels_path: optional Parquet/JSONL/CSV file with ``request_id`` and ``label``.
        quarantine_path: where to write quarantined rows; default ``<log>.quarantine.parquet``.
        write_quarantine: set False to keep quarantined rows in memory only.
        limits: line, depth and chunk bounds.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "log.jsonl").write_text(
        ...     '{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "x": 1.0, "prediction": 1, "latency_ms": 3.5}\\n'
        ...     'not json\\n')
        >>> log = read_request_log(d / "log.jsonl", LogSchema(features=("x",), classes=(0, 1)))
        >>> (log.counts.rows_scored, log.counts.rows_quarantined, log.counts.by_reason)
        (1, 1, {'unparseable_json': 1})

    Raises:
        DataError: the log or labels file is missing or unreadable.
    """
    path = Path(path)
    checker = row_checker(schema, labels_path, limits)
    target = Path(quarantine_path) if quarantine_path else default_quarantine_path(path)
    appender = ParquetAppender(target, arrow_schema(QUARANTINE_COLUMNS)) if write_quarantine else None
    kept: list[dict[str, Any]] = []

    def quarantine(bad: list[dict[str, Any]]) -> None:
        if appender is not None:
            appender.append_rows(bad)
        kept.extend(bad)

    try:
        frames = list(checked_chunks(path, checker, quarantine))
    except BaseException:
        if appender is not None:
            appender.abort()
        raise
    written = appender.close() if appender is not None else None
    frame = pd.concat(frames, ignore_index=True) if frames else schema.frame([])
    quarantined = pd.DataFrame(kept, columns=[name for name, _ in QUARANTINE_COLUMNS]).astype({ROW_NUMBER: "int64"})
    return ParsedLog(frame, quarantined, checker.counts, schema.features, written)


def default_quarantine_path(path: Path) -> Path:
    """``<log>.quarantine.parquet`` beside the log."""
    stem = path.name if path.is_dir() else path.stem
    return path.parent / f"{stem}.quarantine.parquet"


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
    checker = row_checker(schema, labels_path, limits)
    valid_out = ParquetAppender(staged, arrow_schema(schema.column_types()))
    bad_out = ParquetAppender(quarantine, arrow_schema(QUARANTINE_COLUMNS))
    try:
        for chunk in checked_chunks(log_path, checker, bad_out.append_rows):
            valid_out.append_frame(chunk)
    except BaseException:
        valid_out.abort()
        bad_out.abort()
        raise
    valid_out.close()
    bad_out.close()
    counts = checker.counts
    if counts.rows_in != counts.rows_scored + counts.rows_quarantined:
        raise DataError(f"request log {log_path}: expected rows in = scored + quarantined, got {counts}")
    if counts.rows_scored == 0:
        raise DataError(f"request log {log_path}: expected valid rows, got none ({counts.rows_quarantined} quarantined: {counts.by_reason})")
    return counts
