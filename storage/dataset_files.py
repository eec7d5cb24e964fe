"""A Parquet dataset read without its features: the columns a run keeps per row, and the features by streaming.

Issue 18: at 1M rows × 64 features the driver of ``vigil run`` peaked at ~3 GB, most of
it the features (held as a frame, copied into a matrix, pushed shard by shard through
Ray's object store, and copied again when scoring joined slices back by sample id). A
Parquet dataset now keeps only its other columns in memory (sample ids, label, slice
and timestamp columns: tens of bytes a row); workers read their own row ranges of the
features from the file (:class:`workers.row_files.RowFile`), value checks stream over
record batches, and a stage that needs features reads the columns it names.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pd.DataFrame({"x": [1.0, float("inf")], "label": [0, 1]}).to_parquet(path)
    >>> file_columns(path)
    ['x', 'label']
    >>> streamed_value_problems(path, ["x"], [])
    ([('x', 0, 1)], 2)
"""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 65_536  # rows decoded at a time by the streamed checks: ~17 MB of float32 at 64 features

try:  # glibc's heap keeps freed pages too; other C libraries (macOS, musl) have no malloc_trim: nothing to call
    _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):
    _MALLOC_TRIM = None


def file_columns(path: Path) -> list[str]:
    """The columns ``pd.read_parquet(path)`` would give (a stored pandas index is not a column)."""
    return [str(c) for c in pq.ParquetFile(path).schema_arrow.empty_table().to_pandas().columns]


def file_rows(path: Path) -> int:
    """The row count, from the file's footer."""
    return int(pq.ParquetFile(path).metadata.num_rows)


def read_columns(path: Path, columns: list[str]) -> pd.DataFrame:
    """Only ``columns`` of the file, as ``pd.read_parquet`` reads them, with a fresh 0..n-1 index."""
    return pd.read_parquet(path, columns=columns).reset_index(drop=True)


def release_freed_memory() -> None:
    """Hand the pages that Arrow's memory pool and C's heap have freed but kept back to the system.

    Why: Arrow's pool (mimalloc) keeps what a read freed for its next allocation, and glibc's
    heap what numpy freed below its mmap threshold. At 10M rows, reading the kept columns
    (``sample_id``, ``label``, a string ``segment``) and streaming the value checks left the
    driver at 1,009 MiB RSS after ``prepare_run``, most of it pages freed and kept (585 MiB
    once released at the end of :func:`storage.datasets.load_dataset`); a prediction cache's
    decoded row groups stayed under scoring's peak (``bench/chunked_scoring.py``'s case in
    process after ``prepare_run``: 1,641 MiB, 1,510 MiB once released after the last chunk).
    Only memory already freed is returned: nothing read changes.
    """
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def value_problems(frame: pd.DataFrame, features: list[str], allow_nan: list[str]) -> dict[str, tuple[int, int]]:
    """Per feature column of ``frame`` with a NaN (outside ``allow_nan``) or an inf: (NaN count, inf count), in ``features`` order."""
    bad = {}
    for column in features:
        series = frame[column]
        nan = 0 if column in allow_nan else int(series.isna().sum())
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        inf = int(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)).sum()) if numeric and not pd.api.types.is_complex_dtype(series) else 0
        if nan or inf:
            bad[column] = (nan, inf)
    return bad


def streamed_value_problems(path: Path, features: list[str], allow_nan: list[str]) -> tuple[list[tuple[str, int, int]], int]:
    """:func:`value_problems` over the whole file, one record batch at a time; also the rows seen.

    Returns:
        ``[(column, NaN count, inf count), ...]`` for the bad columns in ``features`` order, and the row count.
    """
    totals: dict[str, list[int]] = {}
    rows = 0
    # One batch decoded at a time: with threads and pre-buffering Arrow read ahead (430 MB of its pool for a
    # 1M × 64 float32 file, against 97 MB so), and a memory-mapped file's pages would count as the driver's.
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS, columns=features, use_threads=False):
        frame = batch.to_pandas()
        rows += len(frame)
        for column, (nan, inf) in value_problems(frame, features, allow_nan).items():
            counts = totals.setdefault(column, [0, 0])
            counts[0] += nan
            counts[1] += inf
    return [(c, *totals[c]) for c in features if c in totals], rows  # type: ignore[misc]
