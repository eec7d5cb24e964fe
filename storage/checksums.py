"""Content checksums: the sha256 of a file's bytes, or of a table's content.

Every pin Vigil checks (checkpoints, data files, request logs, upstream modules)
goes through :func:`sha256_file`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """sha256 of a table's content: column names, dtypes and row hashes."""
    digest = hashlib.sha256()
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
