"""Read a request log row by row, a bounded chunk at a time, against a declared :class:`LogSchema`.

Each JSONL line is decoded on its own (:func:`evaluators.shadow.log_decode.decode_line`),
each row validated on its own (:func:`evaluators.shadow.log_schema.validate_row`), so
one odd row never changes how another is read. Rows that fail go to the quarantine
(``row_number`` (0-based line or row index), ``request_id``, ``reason``, ``raw``),
never silently dropped: ``rows_in == rows_scored + rows_quarantined`` for any bytes.

Memory: a chunk of at most ``chunk_rows`` rows (and ``chunk_bytes`` of JSONL) is held
at a time, plus the request ids of valid rows seen so far (to quarantine
``duplicate_request_id``; about 80 bytes per row) and the labels file, if given.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "log.jsonl").write_text(
    ...     '{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "x": 1.0, "prediction": 1, "latency_ms": 3.5}\\n'
    ...     'not json\\n')
    >>> log = read_request_log(d / "log.jsonl", LogSchema(features=("x",), classes=(0, 1)))
    >>> (log.counts.rows_scored, log.counts.rows_quarantined, log.counts.by_reason)
    (1, 1, {'unparseable_json': 1})
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from evaluators.shadow.log_decode import DEFAULT_LIMITS, LogLimits, decode_line, raw_text
from evaluators.shadow.log_cells import present
from evaluators.shadow.log_schema import LogSchema, validate_row
from storage.request_log import LongLine, ParquetAppender, iter_log_chunks, jsonable, read_labels

QUARANTINE_SCHEMA = pa.schema(
    [("row_number", pa.int64()), ("request_id", pa.string()), ("reason", pa.string()), ("raw", pa.string())]
)


@dataclass(frozen=True)
class LogCounts:
    """How many rows came in, were kept for scoring, and were quarantined (by reason)."""

    rows_in: int
    rows_scored: int
    rows_quarantined: int
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedLog:
    """A validated request log held in memory (for small logs and tests; replay streams instead).

    Attributes:
        frame: valid rows in log order, with the schema's columns (:attr:`LogSchema.columns`).
        quarantined: rejected rows: ``row_number``, ``request_id``, ``reason``, ``raw``.
        counts: row counts, with quarantine reasons.
        feature_names: the feature columns of ``frame``.
        quarantine_path: where ``quarantined`` was written, if anywhere.
    """

    frame: pd.DataFrame
    quarantined: pd.DataFrame
    counts: LogCounts
    feature_names: tuple[str, ...]
    quarantine_path: Path | None = None

    def production_scores(self) -> np.ndarray | None:
        """Production scores as an ``(n, k)`` float array, or None unless every row logged them."""
        if "scores" not in self.frame or self.frame["scores"].map(lambda s: s is None or len(s) == 0).any():
            return None
        return np.asarray(self.frame["scores"].tolist(), dtype=float).reshape(len(self.frame), -1)

    def production_predictions(self) -> np.ndarray:
        """Production predictions: class indices (classification) or values (regression)."""
        return self.frame["prediction"].to_numpy()


class RequestLogReader:
    """Streams the valid rows of a log as frames, quarantining the rest as it goes.

    Iterate :meth:`chunks` once; :attr:`counts` is final after that.
    """

    def __init__(
        self,
        path: str | Path,
        schema: LogSchema,
        *,
        labels_path: str | Path | None = None,
        limits: LogLimits = DEFAULT_LIMITS,
        quarantine: ParquetAppender | None = None,
        keep_quarantine: bool = False,
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.limits = limits
        self.labels = read_labels(labels_path) if labels_path is not None else None
        self.quarantine = quarantine
        self.kept_quarantine: list[dict[str, Any]] | None = [] if keep_quarantine else None
        self.rows_in = 0
        self.rows_scored = 0
        self.reasons: Counter[str] = Counter()
        self._seen: set[str] = set()

    @property
    def counts(self) -> LogCounts:
        """Rows read so far: in, scored, quarantined (by reason)."""
        quarantined = sum(self.reasons.values())
        return LogCounts(self.rows_in, self.rows_scored, quarantined, dict(sorted(self.reasons.items())))

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Frames of valid rows (the schema's columns), one per chunk read; empty chunks are skipped."""
        limits, columns = self.limits, self.schema.columns
        for raw_chunk in iter_log_chunks(self.path, chunk_rows=limits.chunk_rows, chunk_bytes=limits.chunk_bytes,
                                         max_line_bytes=limits.max_line_bytes):
            valid: list[tuple[Any, ...]] = []  # tuples in the schema's column order: a third of a dict's memory
            bad: list[dict[str, Any]] = []
            for raw in raw_chunk:
                row_number = self.rows_in
                self.rows_in += 1
                row, reason = self._row(raw)
                if reason is None:
                    valid.append(tuple(map(row.get, columns)))
                else:
                    bad.append({"row_number": row_number, "request_id": _request_id(row), "reason": reason,
                                "raw": _raw(raw, limits)})
            self.rows_scored += len(valid)
            self.reasons.update(b["reason"] for b in bad)
            if bad:
                if self.quarantine is not None:
                    self.quarantine.append(pa.Table.from_pylist(bad, schema=QUARANTINE_SCHEMA))
                if self.kept_quarantine is not None:
                    self.kept_quarantine.extend(bad)
            if valid:
                yield self.schema.frame(valid)

    def _row(self, raw: bytes | LongLine | dict[str, Any]) -> tuple[Any, str | None]:
        """The validated row and None, or what is known of the row and its quarantine reason."""
        if isinstance(raw, LongLine):
            return None, "line_too_long"
        obj = decode_line(raw, self.limits) if isinstance(raw, bytes) else raw
        if isinstance(obj, str):
            return None, obj
        if self.labels is not None and not present(obj.get("label")):  # the log's own label wins
            rid = obj.get("request_id")
            if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) in self.labels:
                obj = {**obj, "label": self.labels[str(rid)]}
        checked = validate_row(obj, self.schema)
        if isinstance(checked, str):
            return obj, checked
        if checked["request_id"] in self._seen:
            return obj, "duplicate_request_id"
        self._seen.add(checked["request_id"])
        return checked, None


def read_request_log(
    path: str | Path,
    schema: LogSchema,
    *,
    labels_path: str | Path | None = None,
    quarantine_path: str | Path | None = None,
    write_quarantine: bool = True,
    limits: LogLimits = DEFAULT_LIMITS,
) -> ParsedLog:
    """Read, validate and quarantine a whole log into memory (the replay itself streams with :class:`RequestLogReader`).

    Args:
        path: a ``.parquet`` or ``.jsonl`` file, or a folder of Parquet part files.
        schema: what a row must carry.
        labels_path: optional Parquet/JSONL/CSV file with ``request_id`` and ``label``.
        quarantine_path: where to write quarantined rows; default ``<log>.quarantine.parquet``.
        write_quarantine: set False to keep quarantined rows in memory only.
        limits: line, depth and chunk bounds.

    Raises:
        DataError: the log or labels file is missing or unreadable.
    """
    path = Path(path)
    target = Path(quarantine_path) if quarantine_path else default_quarantine_path(path)
    appender = ParquetAppender(target, QUARANTINE_SCHEMA) if write_quarantine else None
    reader = RequestLogReader(path, schema, labels_path=labels_path, limits=limits, quarantine=appender, keep_quarantine=True)
    try:
        frames = list(reader.chunks())
    except BaseException:
        if appender is not None:
            appender.abort()
        raise
    written = appender.close() if appender is not None else None
    frame = pd.concat(frames, ignore_index=True) if frames else schema.frame([])
    quarantined = pd.DataFrame(reader.kept_quarantine or [], columns=QUARANTINE_SCHEMA.names).astype({"row_number": "int64"})
    return ParsedLog(frame, quarantined, reader.counts, schema.features, written)


def default_quarantine_path(path: Path) -> Path:
    """``<log>.quarantine.parquet`` beside the log."""
    stem = path.name if path.is_dir() else path.stem
    return path.parent / f"{stem}.quarantine.parquet"


def _request_id(row: Any) -> str | None:
    rid = row.get("request_id") if isinstance(row, Mapping) else None
    return str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None


def _raw(raw: bytes | LongLine | dict[str, Any], limits: LogLimits) -> str:
    if isinstance(raw, LongLine):
        return raw_text(raw.prefix, limits) + f"… ({raw.length} bytes)"
    if isinstance(raw, bytes):
        return raw_text(raw, limits)
    return json.dumps(raw, default=jsonable)[: limits.raw_chars]
