"""A large CSV dataset, copied once into Parquet a chunk at a time, then held like a Parquet one.

A ``.parquet`` dataset keeps only its non-feature columns in the driver; workers read
their own row ranges of the features from the file (:mod:`storage.dataset_files`). A CSV
was read whole: at 10M rows × 64 features that is ~5 GB of float64 in the driver before
any work, and more while parsing (issue 18). A CSV of at least :data:`IN_MEMORY_BYTES` is
now parsed :data:`CHUNK_ROWS` rows at a time into ``<cache>/csv/<sha256>.parquet`` (its
bytes' checksum, so an edited file gets a new copy and an unchanged one is parsed once);
the dataset keeps the CSV's checksum and source, and its features stay in the copy.

Column types are those ``pd.read_csv`` gives the whole file: each chunk's are inferred as
pandas does, a chunk whose column needs a wider type than the first chunk's (an integer
column with a gap further down becomes float; numbers and text become text, read as text
throughout) restarts the copy with that column's type fixed, and an integer chunk of a
float column is cast up. Where a copy cannot be
made (the parser fails, a type pyarrow cannot store), None sends the caller back to
reading the file whole, whose error (if any) is the one the user sees. The copies can be
deleted at any time; the next run makes them again. A copy whose process died part-way
leaves a hidden partial file, removed by the next copy into the folder
(:mod:`storage.partial`). A process using a copy holds a shared lock on it until it ends;
a new version's copy removes the earlier versions' copies (same CSV path) that nobody holds
(:func:`prune_versions`), so a CSV rewritten every night keeps one copy, not one a night.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("x,label\\n1,0\\n2.5,1\\n")
    >>> copy = parquet_copy(folder / "t.csv", "ab12", folder / "csv", chunk_rows=1)
    >>> copy.name, pd.read_parquet(copy).dtypes.astype(str).tolist()
    ('ab12.parquet', ['float64', 'int64'])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from storage.partial import hold, remove_if_unheld, sweep_partial_files
from storage.request_log import ParquetAppender

IN_MEMORY_BYTES = 64 << 20
"""A CSV smaller than this is read whole (~10 s of parsing at most; its frame a few hundred MB at most)."""

CHUNK_ROWS = 131_072
"""Rows parsed at a time: ~70 MB of float64 at 64 columns."""

_MAX_RESTARTS = 8
_SOURCE_KEY = b"vigil.csv_source"


def parquet_copy(path: Path, sha256: str, folder: Path, *, chunk_rows: int | None = None) -> Path | None:
    """The Parquet copy of the CSV at ``path`` (whose bytes hash to ``sha256``) in ``folder``, made now if missing; None where none can be made.

    ``chunk_rows``: rows parsed at a time (default :data:`CHUNK_ROWS`).
    """
    target = folder / f"{sha256}.parquet"
    if hold(target):
        return target
    sweep_partial_files(folder)  # copies whose process died (kill -9, out of memory) part-way
    source = str(Path(path).resolve())
    fixed: dict[str, str] = {}
    try:
        for _ in range(_MAX_RESTARTS):
            wider = _write_copy(path, target, fixed, chunk_rows or CHUNK_ROWS, source)
            if wider is None:
                break
            fixed |= wider
        else:
            return None
    except (ValueError, TypeError, OSError, pa.ArrowException):  # pandas' parser errors and bad bytes are ValueErrors
        return None
    if not hold(target):  # removed in the instant between its rename and the hold: read whole this time
        return None
    prune_versions(folder, source, keep=target)
    return target


def prune_versions(folder: Path, source: str, *, keep: Path) -> list[Path]:
    """Remove the copies in ``folder`` of earlier versions of the CSV at ``source`` that no live process uses; returns them.

    A copy records its CSV's path in its footer (``vigil.csv_source``); a process using a copy
    holds a shared lock on it until it ends, so only copies nobody holds are removed. Without
    this, a CSV rewritten every night would leave a full copy of each night's version behind.
    """
    removed = []
    for copy in sorted(folder.glob("*.parquet")):
        if copy == keep:
            continue
        try:
            metadata = pq.read_metadata(copy).metadata or {}
        except (OSError, pa.ArrowException):  # being replaced, or not a copy of ours
            continue
        if metadata.get(_SOURCE_KEY, b"").decode() == source and remove_if_unheld(copy):  # a live run holds its copy
            removed.append(copy)
    return removed


def _write_copy(path: Path, target: Path, fixed: dict[str, str], chunk_rows: int, source: str) -> dict[str, str] | None:
    """Write the copy with the ``fixed`` column types; return the columns whose first chunk's type must widen, else None.

    The copy is written under a hidden name and renamed into place only when whole
    (:class:`~storage.request_log.ParquetAppender`): a reader never sees half of one.
    Once a column must widen, the file is read to its end without writing, so that
    one restart fixes every column that widens.
    """
    first: dict[str, str] = {}
    restart: dict[str, str] = {}
    out = ParquetAppender(target)
    try:
        with pd.read_csv(path, chunksize=chunk_rows, dtype=fixed or None) as chunks:
            for chunk in chunks:
                types = chunk.dtypes.astype(str).to_dict()
                first = first or types
                cast = {}
                for column, kind in types.items():
                    if kind != first[column]:
                        common = _common(np.dtype(restart.get(column, first[column])), np.dtype(kind))
                        if common != first[column] or common == "object":  # numbers under text: read as text throughout
                            restart[column] = common
                        else:
                            cast[column] = common  # an integer chunk of a float column
                if restart:
                    continue
                table = pa.Table.from_pandas(chunk.astype(cast) if cast else chunk, preserve_index=False, schema=out.schema)  # later chunks: the first's Arrow types
                if out.schema is None:  # a text column empty so far has Arrow's null type, which no later text fits; the CSV's path noted
                    metadata = {**(table.schema.metadata or {}), _SOURCE_KEY: source.encode()}
                    table = table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema], metadata=metadata))
                out.append(table)
    except BaseException:
        out.abort()
        raise
    if not first or restart:
        out.abort()
    if not first:
        raise ValueError("no rows")  # read whole: a header-only file gets the usual "0 rows" error
    if restart:
        return restart
    out.close()
    return None


def _common(a: np.dtype, b: np.dtype) -> str:
    """The type two chunks of a column share, as pandas joins the chunks of one file: numbers widen, anything else is text (object).

    Example:
        >>> _common(np.dtype("int64"), np.dtype("float64")), _common(np.dtype("int64"), np.dtype("O")), _common(np.dtype("bool"), np.dtype("int64"))
        ('float64', 'object', 'object')
    """
    if a.kind in "iuf" and b.kind in "iuf":
        return str(np.result_type(a, b))
    return "object"
