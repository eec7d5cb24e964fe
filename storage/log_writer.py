"""Append-only, batched Parquet writing for request logs (the mirror's log).

Each batch becomes one part file, written to a temporary name and renamed into
place, so a reader (``pipeline.shadow.log.read_request_log`` on the folder)
never sees half a file.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from suite.errors import DataError


class LogWriter:
    """Append-only, batched Parquet writer for the mirror's request log.

    Rows are buffered in memory and written as one Parquet part file per batch,
    every ``batch_rows`` rows or ``flush_seconds`` seconds, whichever comes first;
    each part is written to a temporary name and renamed into place, so a reader
    never sees half a file. Thread-safe: :meth:`append` only takes a lock and
    appends, so an event loop can call it and run :meth:`flush_if_due` in a thread.

    Example:
        >>> import tempfile
        >>> schema = pa.schema([("request_id", pa.string()), ("latency_ms", pa.float64())])
        >>> w = LogWriter(tempfile.mkdtemp(), schema, batch_rows=2, autoflush=True)
        >>> w.append({"request_id": "a", "latency_ms": 1.0}); w.append({"request_id": "b", "latency_ms": 2.0})
        >>> _ = w.close(); (w.rows_written, len(w.parts))
        (2, 1)
    """

    def __init__(
        self,
        directory: str | Path,
        schema: pa.Schema,
        *,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        autoflush: bool = False,
    ) -> None:
        if batch_rows < 1 or flush_seconds <= 0:
            raise DataError(f"LogWriter: expected batch_rows >= 1 and flush_seconds > 0, got {batch_rows}, {flush_seconds}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.autoflush = autoflush
        self.rows_written = 0
        self.parts: list[Path] = []
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._seq = 0
        self._closed = False

    def append(self, row: Mapping[str, Any]) -> None:
        """Buffer one row (keys outside the schema are ignored, missing keys are null)."""
        with self._lock:
            if self._closed:
                raise DataError(f"LogWriter {self.directory}: expected an open writer, got a closed one")
            self._buffer.append(dict(row))
        if self.autoflush:
            self.flush_if_due()

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        with self._lock:
            return len(self._buffer)

    def due(self) -> bool:
        """Whether a batch is full or the flush interval has passed with rows waiting."""
        with self._lock:
            n = len(self._buffer)
        return n >= self.batch_rows or (n > 0 and time.monotonic() - self._last_flush >= self.flush_seconds)

    def flush_if_due(self) -> int:
        """Write a part file when :meth:`due`; returns the rows written."""
        return self.flush() if self.due() else 0

    def flush(self) -> int:
        """Write every buffered row now (in parts of at most ``batch_rows``); returns rows written."""
        with self._write_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
                self._last_flush = time.monotonic()
            for start in range(0, len(rows), self.batch_rows):
                self._write_part(rows[start : start + self.batch_rows])
            return len(rows)

    def close(self) -> int:
        """Flush what is buffered and refuse further rows; returns rows written by this call."""
        written = self.flush()
        with self._lock:
            self._closed = True
        return written

    def _write_part(self, rows: list[dict[str, Any]]) -> None:
        columns = {name: [row.get(name) for row in rows] for name in self.schema.names}
        table = pa.Table.from_pydict(columns, schema=self.schema)
        self._seq += 1
        part = self.directory / f"part-{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.parquet"
        write_atomic(table, part)
        self.parts.append(part)
        self.rows_written += len(rows)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)

