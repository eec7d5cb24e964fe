"""Request logs for shadow traffic as bytes and Parquet: read them in bounded chunks, write them, append Parquet.

Nothing here judges a row or names a column: the format, the row schema and its
checks are :mod:`evaluators.shadow.request_log`, and :mod:`pipeline.shadow.log` feeds
the chunks read here to its checker. This module only moves bytes:

* :func:`iter_log_chunks` yields a log a chunk at a time: a JSONL file as lists of
  raw lines (bytes; a line longer than the limit as a :class:`LongLine` holding only
  its first bytes), a Parquet file or a folder of Parquet parts (what
  :class:`storage.log_writer.LogWriter` writes) as lists of row dicts read with
  ``iter_batches``. Memory is bounded by the chunk, never by the log.
* :class:`ParquetAppender` writes a Parquet file batch by batch and renames it
  into place when closed.
* :func:`arrow_schema` turns the format's (column, type) pairs into a Parquet schema.
* :func:`read_table_file` reads a small table (a labels file) from Parquet, JSONL or CSV.
* :func:`write_request_log` writes a frame as a log (Parquet or JSONL).

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
    >>> _ = p.write_bytes(b'{"a": 1}\\n\\nlast line, no newline')
    >>> [chunk for chunk in iter_log_chunks(p, chunk_rows=2)]
    [[b'{"a": 1}', b''], [b'last line, no newline']]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from storage.log_writer import write_atomic as _write_atomic
from storage.partial import PartialFile
from suite.errors import DataError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_READ_STEP = 1 << 16


@dataclass(frozen=True)
class LongLine:
    """A JSONL line longer than the limit: its first bytes and its full length (newline excluded)."""

    prefix: bytes
    length: int


RawRow = bytes | LongLine | dict[str, Any]

_ARROW_TYPES = {
    "string": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "list<float64>": pa.list_(pa.float64()),
    "timestamp[us, UTC]": pa.timestamp("us", tz="UTC"),
}


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    """The Parquet schema of (column, type name) pairs, the names being ``ColumnType``'s.

    Example:
        >>> arrow_schema([("request_id", "string"), ("scores", "list<float64>")]).types
        [DataType(string), ListType(list<item: double>)]

    Raises:
        DataError: a type name this store does not know.
    """
    unknown = sorted({str(kind) for _, kind in columns} - set(_ARROW_TYPES))
    if unknown:
        raise DataError(f"log schema: expected column types among {sorted(_ARROW_TYPES)}, got {unknown}")
    return pa.schema([(name, _ARROW_TYPES[str(kind)]) for name, kind in columns])


def iter_log_chunks(
    path: str | Path, *, chunk_rows: int = 10_000, chunk_bytes: int = 2 << 20, max_line_bytes: int = 1 << 20
) -> Iterator[list[RawRow]]:
    """The log's rows in order, ``chunk_rows`` (or ``chunk_bytes`` of JSONL) at a time.

    A JSONL row is one line (split on ``\\n`` only; a last line without a newline
    counts, a newline at the end of the file does not start another line);
    a Parquet row is a dict of its cells.

    Raises:
        DataError: no such path, an unknown suffix, or a Parquet file that cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"request log {path}: expected a .parquet/.jsonl file or a folder of parts, got no such path")
    if path.is_dir():
        for part in sorted(p for p in path.glob("*.parquet") if not p.name.startswith(".")):
            yield from _parquet_chunks(part, chunk_rows)
    elif path.suffix == ".parquet":
        yield from _parquet_chunks(path, chunk_rows)
    elif path.suffix in JSONL_SUFFIXES:
        yield from _jsonl_chunks(path, chunk_rows, chunk_bytes, max_line_bytes)
    else:
        raise DataError(f"request log {path}: expected suffix .parquet or .jsonl, got {path.suffix!r}")


def _jsonl_chunks(path: Path, chunk_rows: int, chunk_bytes: int, max_line_bytes: int) -> Iterator[list[RawRow]]:
    chunk: list[RawRow] = []
    size = 0
    with path.open("rb") as fh:
        while True:
            line = fh.readline(max_line_bytes + 2)
            if not line:
                break
            if line.endswith(b"\n"):
                row: RawRow = line[:-1]
            elif len(line) <= max_line_bytes:  # the last line, without a newline
                row = line
            else:
                row = LongLine(line[:4096], len(line) + _skip_rest_of_line(fh))
            chunk.append(row)
            size += len(row) if isinstance(row, bytes) else 4096
            if len(chunk) >= chunk_rows or size >= chunk_bytes:
                yield chunk
                chunk, size = [], 0
    if chunk:
        yield chunk


def _skip_rest_of_line(fh: Any) -> int:
    """Read past the end of the current line without keeping it; the bytes skipped (newline excluded)."""
    skipped = 0
    while True:
        piece = fh.readline(_READ_STEP)
        if not piece:
            return skipped
        if piece.endswith(b"\n"):
            return skipped + len(piece) - 1
        skipped += len(piece)


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[list[RawRow]]:
    try:
        source = pq.ParquetFile(path)
        for batch in source.iter_batches(batch_size=chunk_rows):
            yield batch.to_pylist()
    except (pa.ArrowException, OSError, ValueError, OverflowError) as exc:
        raise DataError(f"request log {path}: expected a readable Parquet file, got {type(exc).__name__}: {str(exc)[:200]}") from exc


def iter_parquet_frames(path: str | Path, columns: list[str] | None = None, batch_rows: int = 10_000) -> Iterator[pd.DataFrame]:
    """A Parquet file as frames of at most ``batch_rows`` rows (only ``columns``, when given)."""
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
        yield batch.to_pandas()


def parquet_columns(path: str | Path) -> list[str]:
    """The column names of a Parquet file (read from its footer)."""
    return list(pq.read_schema(path).names)


class ParquetAppender:
    """Writes a Parquet file one table at a time, under a hidden name, renamed into place by :meth:`close`.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> schema = pa.schema([("a", pa.int64())])
        >>> with ParquetAppender(target, schema) as out:
        ...     out.append(pa.table({"a": [1, 2]})); out.append(pa.table({"a": [3]}))
        >>> pq.read_table(target)["a"].to_pylist()
        [1, 2, 3]
    """

    def __init__(self, target: str | Path, schema: pa.Schema | None = None) -> None:
        """Write to ``target`` with ``schema`` (None: the first table's schema)."""
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.rows = 0
        self._partial: PartialFile | None = None  # hidden, locked while written: swept if this process dies
        self._writer: pq.ParquetWriter | None = None

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        if self._writer is None:
            self.schema = self.schema or schema
            self._partial = PartialFile(self.target)
            self._writer = pq.ParquetWriter(self._partial.path, self.schema)
        return self._writer

    def append(self, table: pa.Table) -> None:
        """Write ``table`` (cast to the file's schema)."""
        writer = self._open(table.schema)
        writer.write_table(table.select(self.schema.names).cast(self.schema))  # type: ignore[union-attr]
        self.rows += table.num_rows

    def append_rows(self, rows: list[dict[str, Any]]) -> None:
        """Write rows given as dicts keyed by the file's columns (the schema must be set)."""
        self.append(pa.Table.from_pylist(rows, schema=self.schema))

    def append_frame(self, frame: pd.DataFrame) -> None:
        """Write a frame whose columns are the file's schema's."""
        self.append(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False, safe=False))

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        self._open(pa.schema([])).close()
        assert self._partial is not None
        return self._partial.commit()

    def abort(self) -> None:
        """Drop the half-written file."""
        if self._writer is not None:
            self._writer.close()
        if self._partial is not None:
            self._partial.abort()

    def __enter__(self) -> ParquetAppender:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def read_table_file(path: str | Path, what: str = "labels file") -> pd.DataFrame:
    """A small table from a Parquet, CSV or (otherwise) JSONL file, read whole.

    Raises:
        DataError: the file is missing or unreadable (named as ``what``).
    """
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path).to_pandas()
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_json(path, lines=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"{what} {path}: expected a Parquet/JSONL/CSV file, got {type(exc).__name__}: {str(exc)[:200]}") from exc


def write_request_log(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a request-log frame as Parquet (by suffix ``.parquet``) or JSONL, atomically.

    Datetime columns are written as ISO-8601 in JSONL; lists and dicts stay JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        _write_atomic(pa.Table.from_pandas(frame, preserve_index=False), path)
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    out = frame.copy()
    for name in out.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in out.dtypes]]:
        out[name] = out[name].map(lambda t: t.isoformat() if pd.notna(t) else None)
    with tmp.open("w") as fh:
        for record in out.to_dict(orient="records"):
            fh.write(json.dumps(record, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


def _jsonable(v: Any) -> Any:
    """A cell as something ``json.dumps`` writes (arrays as lists, numpy scalars as numbers, the rest as text)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)
