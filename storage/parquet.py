"""Atomic Parquet files and safe path segments for the results and predictions trees.

Example:
    >>> path_segment("gaussian_noise:3")
    'gaussian_noise%3A3'
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from storage.partial import PartialFile
from suite.errors import VigilError

ROW_GROUP_ROWS = 1024 * 1024
"""Rows per Parquet row group: pyarrow's default, what ``DataFrame.to_parquet`` writes."""


def path_segment(name: str, what: str = "name") -> str:
    """``name`` as one reversible, filesystem-safe path segment (percent-encoding).

    Percent-encoding keeps distinct names distinct ("a:b" and "a%3Ab" never
    collide) and works on every filesystem, unlike ``:``.

    Raises:
        VigilError: ``name`` is empty, ``.`` or ``..``.
    """
    if not isinstance(name, str) or name in ("", ".", ".."):
        raise VigilError(f"storage: {what}: expected a non-empty name other than '.' and '..', got {name!r}")
    return quote(name, safe="")


def write_parquet_row_groups(frame: pd.DataFrame, path: Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Write ``frame`` to ``path`` as ``frame.to_parquet(path, index=False)`` does, converting one row group at a time.

    Same schema and metadata (pandas' own, from the whole frame), same row groups, same
    options: the same bytes. Why: ``to_parquet`` converts the whole frame to Arrow first, a
    second copy of it; at 10M rows a run's predictions (ids, labels and 10 float32 scores)
    held ~0.6 GB more on the driver at the end of inference, the peak of ``vigil run``.
    Here one row group (at most ``row_group_rows`` rows) is converted at a time.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if row_group_rows < 1:
        raise VigilError(f"storage: {path}: row_group_rows: expected a positive integer, got {row_group_rows}")
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    if frame.attrs:  # as pandas keeps them
        schema = schema.with_metadata({**(schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(frame.attrs).encode()})
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        for start in range(0, len(frame), row_group_rows) if len(frame) else [0]:  # an empty frame: one empty row group
            part = pa.Table.from_pandas(frame.iloc[start : start + row_group_rows], schema=schema, preserve_index=False)
            writer.write_table(part, row_group_size=row_group_rows)
            del part  # freed before the next slice is converted


def write_parquet_atomic(frame: pd.DataFrame, target: Path) -> Path | None:
    """Write ``frame`` to ``target`` so readers see the old file or the new one, never a part.

    The frame goes to a hidden temporary file beside ``target`` and is swapped
    in with :func:`os.replace`. If ``target`` already existed, a hard link to
    the old file is kept as a hidden backup and returned, so a caller whose
    later step fails can put the old file back with :func:`restore_parquet`.

    Returns:
        The backup path, or None when ``target`` was new.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = PartialFile(target)  # hidden, locked while written: swept if this process dies (storage.partial)
    backup: Path | None = None
    try:
        write_parquet_row_groups(frame, partial.path)
        if target.exists():
            backup = target.with_name(f".{target.name}.{uuid.uuid4().hex}.bak")
            os.link(target, backup)
        partial.commit(fsync=True)  # the rename must never expose a file whose bytes are not on disk yet
    except BaseException:
        partial.abort()
        if backup is not None:
            backup.unlink(missing_ok=True)
        raise
    return backup


def restore_parquet(target: Path, backup: Path | None) -> None:
    """Undo :func:`write_parquet_atomic`: put the backup back, or remove a new file."""
    if backup is not None:
        os.replace(backup, target)
    else:
        target.unlink(missing_ok=True)
