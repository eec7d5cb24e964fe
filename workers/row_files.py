"""Row ranges of a Parquet or Arrow IPC file, read by each worker for itself.

For a large dataset the driver does not push every shard through Ray's object
store (one memcpy on the driver per shard, and the driver becomes the
bottleneck on a GPU): it hands each actor a :class:`RowFile` (a path and a row
count, a few bytes) with a row range, and the actor reads those rows from the
memory-mapped file. An Arrow IPC file (Feather v2, uncompressed) whose features
are one fixed-size-list column is read without any copy; a Parquet file is
read by row groups through Arrow (decoded, memory-mapped). Opened files are
kept per process, keyed by path, size and mtime, so a warm actor maps a file once.

A GPU lane copies each batch from the mapped rows into its pinned staging
buffer on a few threads. Reading with ``preadv`` straight into the pinned
buffers was tried and measured slower on an H200 host (20.9 GB/s against
46.6 GB/s copying from the mapping, ``bench/host_read.py``), so it was removed.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.arrow"
    >>> rows = write_rows(path, np.arange(12, dtype=np.float32).reshape(3, 4))
    >>> rows.rows, rows.read(1, 3).tolist()
    (3, [[4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]])
"""

from __future__ import annotations

import os
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
        table, offsets = _open(self.path, stat.st_size, stat.st_mtime_ns)
        if offsets is None:
            part = table.slice(start, stop - start)
        else:  # Parquet: read only the row groups that hold the range
            first = int(np.searchsorted(offsets, start, side="right")) - 1
            last = int(np.searchsorted(offsets, stop, side="left"))
            part = table.read_row_groups(list(range(first, last)), columns=list(self.columns) if self.columns else [FEATURES])
            part = part.slice(start - int(offsets[first]), stop - start)
        return self._matrix(part)

    def _matrix(self, part: Any) -> np.ndarray:
        if self.columns:
            return np.column_stack([part.column(c).to_numpy() for c in self.columns]).astype(np.float32, copy=False)
        column = part.column(FEATURES)
        chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        values = chunk.flatten().to_numpy(zero_copy_only=False)  # flatten honours the slice's offset; no copy
        return values.reshape((len(chunk), *(self.row_shape or (chunk.type.list_size,))))


@lru_cache(maxsize=8)
def _open(path: str, size: int, mtime_ns: int) -> tuple[Any, np.ndarray | None]:
    """An opened file: a memory-mapped Arrow table, or a Parquet file with its row-group offsets."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.endswith(".parquet"):
            parquet = pq.ParquetFile(path, memory_map=True)
            counts = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
            return parquet, np.concatenate([[0], np.cumsum(counts)])
        return pa.ipc.open_file(pa.memory_map(path, "r")).read_all(), None
    except (OSError, pa.ArrowException) as exc:
        raise VigilError(f"row file {path}: cannot read it as {'Parquet' if path.endswith('.parquet') else 'Arrow IPC'}: {exc}") from None


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
