"""Row ranges of a Parquet or Arrow IPC file, read by each worker for itself.

For a large dataset the driver does not push every shard through Ray's object
store (one memcpy on the driver per shard, and the driver becomes the
bottleneck on a GPU): it hands each actor a :class:`RowFile` (a path and a row
count, a few bytes) with a row range, and the actor reads those rows from the
memory-mapped file. An Arrow IPC file (Feather v2, uncompressed) whose features
are one fixed-size-list column is read without any copy; a Parquet file is
read by row groups through Arrow (decoded, memory-mapped). Opened files are
kept per process, keyed by path, size and mtime, so a warm actor maps a file once.

In such an Arrow file a row range is one run of bytes: :meth:`RowFile.span`
names it (a :class:`FileSpan`), and a GPU lane reads each batch with ``preadv``
straight into its pinned staging buffer, a few threads each reading a slice
(one copy, page cache to pinned memory, through the kernel's own mapping of
the page cache) instead of ``memcpy`` from the 4 KB pages of a user mapping.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.arrow"
    >>> rows = write_rows(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    >>> rows.rows, rows.read(1, 3).tolist()
    (3, [[4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]])
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from suite.errors import VigilError

FEATURES = "features"


@dataclass(frozen=True)
class RowFile:
    """A file of rows that workers read by range.

    Attributes:
        path: a ``.parquet`` file, or an Arrow IPC file (``.arrow``/``.feather``).
        rows: its row count.
        columns: the scalar feature columns to stack (float32), or ``None`` for the one
            fixed-size-list column ``features`` (its values kept in their dtype, e.g. uint8).
        row_shape: the shape of one row of that list column (e.g. ``(3, 224, 224)``); ``None`` is flat.
    """

    path: str
    rows: int
    columns: tuple[str, ...] | None = None
    row_shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return self.rows

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a numpy array (a view of the mapped file when the format allows)."""
        stat = os.stat(self.path)
        table, offsets, _ = _open(self.path, stat.st_size, stat.st_mtime_ns, self.columns)
        if offsets is None:
            part = table.slice(start, stop - start)
        else:  # Parquet: read only the row groups that hold the range
            first = int(np.searchsorted(offsets, start, side="right")) - 1
            last = int(np.searchsorted(offsets, stop, side="left"))
            part = table.read_row_groups(list(range(first, last)), columns=list(self.columns) if self.columns else [FEATURES])
            part = part.slice(start - int(offsets[first]), stop - start)
        return self._matrix(part)

    def span(self, start: int, stop: int) -> FileSpan | None:
        """Rows ``start:stop`` as a run of bytes in the file, or ``None`` when they are not one (Parquet, columns)."""
        stat = os.stat(self.path)
        table, _, data = _open(self.path, stat.st_size, stat.st_mtime_ns, self.columns)
        if data is None:
            return None
        offset, dtype, width = data
        shape = self.row_shape or (width,)
        row_bytes = dtype.itemsize * width
        return FileSpan(self.path, offset + start * row_bytes, stop - start, dtype.str, tuple(shape))

    def _matrix(self, part: Any) -> np.ndarray:
        if self.columns:
            return np.column_stack([part.column(c).to_numpy() for c in self.columns]).astype(np.float32, copy=False)
        column = part.column(FEATURES)
        chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        values = chunk.flatten().to_numpy(zero_copy_only=False)  # flatten honours the slice's offset; no copy
        return values.reshape((len(chunk), *(self.row_shape or (chunk.type.list_size,))))


@dataclass(frozen=True)
class FileSpan:
    """Consecutive rows stored as one run of bytes in a file, read into a buffer the caller owns.

    Attributes:
        path: the file.
        offset: byte offset of the first row.
        rows: row count.
        dtype: numpy dtype string of the values (e.g. ``"<f4"``).
        row_shape: the shape of one row.
    """

    path: str
    offset: int
    rows: int
    dtype: str
    row_shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.rows

    @property
    def shape(self) -> tuple[int, ...]:
        """``(rows, *row_shape)``, as an array's."""
        return (self.rows, *self.row_shape)

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return np.dtype(self.dtype).itemsize * int(np.prod(self.row_shape, dtype=np.int64))

    def read_into(self, out: np.ndarray, start: int, stop: int, readers: Executor | None = None, parts: int = 1) -> None:
        """Read rows ``start:stop`` of this span into ``out`` (C-contiguous, at least that many rows).

        With ``readers``, the bytes are cut into up to ``parts`` slices of at least 1 MiB, read in parallel.
        """
        nbytes = (stop - start) * self.row_bytes
        if not out.flags.c_contiguous or out.nbytes < nbytes:
            raise VigilError(f"row file {self.path}: expected a C-contiguous buffer of at least {nbytes} bytes, got {out.nbytes}")
        view = memoryview(out.reshape(-1).view(np.uint8))[:nbytes]
        fd = os.open(self.path, os.O_RDONLY)
        try:
            first = self.offset + start * self.row_bytes
            step = max(1 << 20, -(-nbytes // max(1, parts)))
            cuts = [(a, min(a + step, nbytes)) for a in range(0, nbytes, step)]
            if readers is None or len(cuts) == 1:
                for a, b in cuts:
                    _pread(fd, view[a:b], first + a, self.path)
            else:
                for job in [readers.submit(_pread, fd, view[a:b], first + a, self.path) for a, b in cuts]:
                    job.result()
        finally:
            os.close(fd)


def _pread(fd: int, view: memoryview, offset: int, path: str) -> None:
    """Fill ``view`` from ``offset`` (preadv may return fewer bytes than asked: go on until full)."""
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise VigilError(f"row file {path}: expected {len(view)} bytes at offset {offset}, the file ends after {done}")
        done += got


@lru_cache(maxsize=8)
def _open(path: str, size: int, mtime_ns: int, columns: tuple[str, ...] | None) -> tuple[Any, np.ndarray | None, Any]:
    """An opened file: a memory-mapped Arrow table, or a Parquet file with its row-group offsets.

    The third item is ``(byte offset of the first row, dtype, values per row)`` when the rows are one
    run of bytes in the file (an Arrow file's one fixed-size-list column, one chunk, no nulls), else ``None``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.endswith(".parquet"):
            parquet = pq.ParquetFile(path, memory_map=True)
            counts = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
            return parquet, np.concatenate([[0], np.cumsum(counts)]), None
        mapped = pa.memory_map(path, "r")
        table = pa.ipc.open_file(mapped).read_all()
        return table, None, _data_run(mapped, table) if columns is None else None
    except (OSError, pa.ArrowException) as exc:
        raise VigilError(f"row file {path}: cannot read it as {'Parquet' if path.endswith('.parquet') else 'Arrow IPC'}: {exc}") from None


def _data_run(mapped: Any, table: Any) -> tuple[int, np.dtype, int] | None:
    """Where the ``features`` values start in the mapped file, when they are one run of fixed-width values."""
    import pyarrow as pa

    if FEATURES not in table.column_names or table.column(FEATURES).num_chunks != 1:
        return None
    chunk = table.column(FEATURES).chunk(0)
    if not pa.types.is_fixed_size_list(chunk.type) or chunk.null_count or chunk.values.null_count:
        return None
    values = chunk.values
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        return None
    dtype = np.dtype(values.type.to_pandas_dtype())
    mapped.seek(0)
    base = mapped.read_buffer(1).address  # a zero-copy slice: the mapping's first byte
    start = values.buffers()[1].address + (values.offset + chunk.offset * chunk.type.list_size) * dtype.itemsize
    return start - base, dtype, chunk.type.list_size


def write_rows(path: Path, values: np.ndarray, *, row_group_rows: int = 65_536) -> RowFile:
    """Write ``values`` (n rows of any shape) as one fixed-size-list column ``features``.

    ``.parquet`` writes Parquet (uncompressed, row groups of ``row_group_rows``); anything else
    an uncompressed Arrow IPC file, which workers map without copying.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = np.ascontiguousarray(values)
    width = int(np.prod(values.shape[1:], dtype=np.int64))
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)
    table = pa.table({FEATURES: column})
    if str(path).endswith(".parquet"):
        pq.write_table(table, path, compression="none", row_group_size=row_group_rows)
    else:
        with pa.ipc.new_file(str(path), table.schema) as writer:
            writer.write_table(table, max_chunksize=max(1, len(values)))
    return RowFile(str(path), len(values), None, tuple(values.shape[1:]) if values.ndim > 2 else None)
