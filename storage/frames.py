"""Atomic Parquet reads and writes for the working files of a run (cache, staging).

Example:
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.parquet"
    >>> write_frame(p, pd.DataFrame({"a": [1, 2]}))
    >>> read_frame(p)["a"].tolist()
    [1, 2]
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` to ``path`` as Parquet: a temp file beside it, then an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_frame(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame`."""
    return pd.read_parquet(path, columns=columns)
