"""Atomic Parquet reads and writes for the working files of a run (cache, staging).

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.parquet"
    >>> write_frame(p, pd.DataFrame({"a": [1, 2]}))
    >>> read_frame(p)["a"].tolist()
    [1, 2]
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from storage.parquet import write_parquet_atomic


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` as Parquet atomically (temp file beside it, then a rename)."""
    backup = write_parquet_atomic(frame, path)
    if backup is not None:
        backup.unlink(missing_ok=True)  # nothing to roll back to: the new file stands


def read_frame(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame`."""
    return pd.read_parquet(path, columns=columns)
