"""Content checksums: the sha256 of a file's bytes, or of a table's content.

Every pin Vigil checks (checkpoints, data files, request logs, upstream modules)
goes through :func:`sha256_file`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from suite.errors import ChecksumError


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_pin(path: Path, pin: str | None, field: str) -> str:
    """``path``'s sha256, checked against ``pin`` when one is given (code and data pins alike).

    Args:
        path: the pinned file.
        pin: the sha256 the suite pins, or ``None`` (nothing to check).
        field: where the pin is written, e.g. ``suite s.yaml: models[0].module_sha256``.

    Raises:
        ChecksumError: the file's sha256 is not ``pin``.
    """
    actual = sha256_file(path)
    if pin and actual != pin:
        raise ChecksumError(f"{field}: expected {pin}, file {path.name} has {actual}")
    return actual


def frame_sha256(frame: pd.DataFrame) -> str:
    """sha256 of a table's content: column names, dtypes and row hashes."""
    digest = hashlib.sha256()
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
