"""Check the rows of a request log chunk by chunk against a declared :class:`LogSchema`, quarantining the rest.

Each JSONL line is decoded on its own (:func:`evaluators.shadow.request_log.decode.decode_line`),
each row validated on its own (:func:`evaluators.shadow.request_log.rows.validate_row`), so
one odd row never changes how another is read. Rows that fail become quarantine rows
(:data:`~evaluators.shadow.request_log.format.QUARANTINE_COLUMNS`: row number, request id,
reason, raw text), never silently dropped: ``rows_in == rows_scored + rows_quarantined``
for any bytes.

Nothing here opens a file: :class:`RowChecker` takes the raw rows a chunked reader
yields (``storage.request_log.iter_log_chunks``: JSONL lines as bytes, Parquet rows as
dicts, over-long lines as their first bytes) and :mod:`pipeline.shadow.log` drives the
two. Memory: the chunk being checked, plus the request ids of valid rows seen so far (to
quarantine ``duplicate_request_id``; about 80 bytes per row) and the labels, if given.

Example:
    >>> checker = RowChecker(LogSchema(features=("x",), classes=(0, 1)))
    >>> valid, bad = checker.check([
    ...     b'{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "x": 1.0, "prediction": 1, "latency_ms": 3.5}',
    ...     b'not json'])
    >>> (len(valid), [b["reason"] for b in bad], checker.counts.rows_in)
    (1, ['unparseable_json'], 2)
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluators.shadow.request_log.cells import present
from evaluators.shadow.request_log.decode import DEFAULT_LIMITS, LogLimits, TruncatedLine, decode_line, raw_text
from evaluators.shadow.request_log.format import LABEL, PREDICTION, RAW, REASON, REQUEST_ID, ROW_NUMBER, SCORES
from evaluators.shadow.request_log.rows import LogSchema, validate_row
from suite.errors import DataError

RawRow = bytes | Mapping[str, Any] | TruncatedLine
"""One row as read: a JSONL line, a Parquet row's cells, or the start of a line over the length limit."""


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
        quarantined: rejected rows (the quarantine file's columns).
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
        if SCORES not in self.frame or self.frame[SCORES].map(lambda s: s is None or len(s) == 0).any():
            return None
        return np.asarray(self.frame[SCORES].tolist(), dtype=float).reshape(len(self.frame), -1)

    def production_predictions(self) -> np.ndarray:
        """Production predictions: class indices (classification) or values (regression)."""
        return self.frame[PREDICTION].to_numpy()


class RowChecker:
    """Checks a log's rows a chunk at a time, in log order; :attr:`counts` covers every row checked so far.

    Args:
        schema: what a row must carry.
        labels: labels by request id (:func:`labels_by_request_id`); a row's own label wins.
        limits: line and depth bounds, and how much of a refused row's text to keep.
    """

    def __init__(self, schema: LogSchema, *, labels: Mapping[str, Any] | None = None, limits: LogLimits = DEFAULT_LIMITS) -> None:
        self.schema = schema
        self.labels = labels
        self.limits = limits
        self.rows_in = 0
        self.rows_scored = 0
        self.reasons: Counter[str] = Counter()
        self._seen: set[str] = set()

    @property
    def counts(self) -> LogCounts:
        """Rows checked so far: in, scored, quarantined (by reason)."""
        quarantined = sum(self.reasons.values())
        return LogCounts(self.rows_in, self.rows_scored, quarantined, dict(sorted(self.reasons.items())))

    def check(self, raw_rows: Iterable[RawRow]) -> tuple[pd.DataFrame | None, list[dict[str, Any]]]:
        """The chunk's valid rows as a frame (None when there are none) and its quarantine rows."""
        columns = self.schema.columns
        valid: list[tuple[Any, ...]] = []  # tuples in the schema's column order: a third of a dict's memory
        bad: list[dict[str, Any]] = []
        for raw in raw_rows:
            row_number = self.rows_in
            self.rows_in += 1
            row, reason = self._row(raw)
            if reason is None:
                valid.append(tuple(map(row.get, columns)))
            else:
                bad.append({ROW_NUMBER: row_number, REQUEST_ID: _request_id(row), REASON: reason, RAW: _raw(raw, self.limits)})
        self.rows_scored += len(valid)
        self.reasons.update(b[REASON] for b in bad)
        return (self.schema.frame(valid) if valid else None), bad

    def _row(self, raw: RawRow) -> tuple[Any, str | None]:
        """The validated row and None, or what is known of the row and its quarantine reason."""
        if isinstance(raw, bytes):
            obj = decode_line(raw, self.limits)
        elif isinstance(raw, Mapping):
            obj = raw
        else:
            return None, "line_too_long"
        if isinstance(obj, str):
            return None, obj
        if self.labels is not None and not present(obj.get(LABEL)):  # the log's own label wins
            rid = obj.get(REQUEST_ID)
            if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) in self.labels:
                obj = {**obj, LABEL: self.labels[str(rid)]}
        checked = validate_row(obj, self.schema)
        if isinstance(checked, str):
            return obj, checked
        if checked[REQUEST_ID] in self._seen:
            return obj, "duplicate_request_id"
        self._seen.add(checked[REQUEST_ID])
        return checked, None


def labels_by_request_id(labels: pd.DataFrame, source: str) -> dict[str, Any]:
    """A labels table (``request_id``, ``label``) as {request id: its first label}.

    Example:
        >>> labels_by_request_id(pd.DataFrame({"request_id": [1, 1, 2], "label": [0, 1, 1]}), "labels.csv")
        {'1': 0, '2': 1}

    Raises:
        DataError: a column is missing.
    """
    if {REQUEST_ID, LABEL} - set(labels.columns):
        raise DataError(f"labels file {source}: expected columns {REQUEST_ID} and {LABEL}, got {sorted(map(str, labels.columns))}")
    labels = labels.assign(**{REQUEST_ID: labels[REQUEST_ID].astype(str)}).drop_duplicates(REQUEST_ID, keep="first")
    return dict(zip(labels[REQUEST_ID], (v.item() if isinstance(v, np.generic) else v for v in labels[LABEL]), strict=True))


def _request_id(row: Any) -> str | None:
    rid = row.get(REQUEST_ID) if isinstance(row, Mapping) else None
    return str(rid) if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None


def _raw(raw: RawRow, limits: LogLimits) -> str:
    if isinstance(raw, bytes):
        return raw_text(raw, limits)
    if isinstance(raw, Mapping):  # a Parquet row: datetimes and the like as their text
        return json.dumps(raw, default=_cell_text)[: limits.raw_chars]
    return raw_text(raw.prefix, limits) + f"… ({raw.length} bytes)"


def _cell_text(value: Any) -> Any:
    """A Parquet cell ``json.dumps`` cannot write, as something it can (timestamps as ISO-8601)."""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
