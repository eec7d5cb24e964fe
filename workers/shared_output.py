"""One output file the driver owns and the actors on its node write their shards' scores into.

Scores fetched through Ray's object store are mapped into the driver, where
their pages stay counted, and copied into the output (by taker threads as shards
arrive, :class:`workers.shards.Takers`). With a shared output the driver names a
file in ``/dev/shm`` (a temporary folder when that is absent or too small);
each actor on the driver's node maps the byte range of its shard (row offset ×
row bytes, so a retried shard overwrites the same bytes) and copies its scores
in, returning only a small :class:`Written` note. The driver then maps the file
and unlinks it at once: the mapping keeps the pages until the caller drops the
array. Actors on other nodes keep returning their scores through the object store.

Example:
    >>> out = SharedOutput.create(rows=3, row_bytes_hint=8)
    >>> notes = [write_at(out.path, 0, np.ones((2, 2), np.float32)), write_at(out.path, 2, np.zeros((1, 2), np.float32))]
    >>> out.array(notes).tolist()
    [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.errors import VigilError

_SHM = Path("/dev/shm")


@dataclass(frozen=True)
class Written:
    """What an actor returns for a shard it wrote into the shared output."""

    rows: int
    dtype: str
    row_shape: tuple[int, ...]


def write_at(path: str, start: int, values: np.ndarray, copy: Callable[[np.ndarray, np.ndarray], None] = np.copyto) -> Written:
    """Write ``values`` as rows ``start:start + len(values)`` of the output file at ``path``.

    ``copy(out, values)`` does the copy into the mapped rows (e.g. on several threads).
    """
    values = np.ascontiguousarray(values)
    row_bytes = values.dtype.itemsize * int(np.prod(values.shape[1:], dtype=np.int64))
    written = Written(len(values), values.dtype.str, tuple(values.shape[1:]))
    if not values.nbytes:
        return written
    end = (start + len(values)) * row_bytes
    fd = os.open(path, os.O_RDWR)
    try:
        _grow(fd, end)
    finally:
        os.close(fd)
    rows = np.memmap(path, dtype=values.dtype, mode="r+", offset=start * row_bytes, shape=values.shape)
    copy(rows, values)
    del rows  # unmapped; the pages stay in the file
    return written


def _grow(fd: int, size: int) -> None:
    """Make the file at least ``size`` bytes long, never shorter (other actors grow it too)."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True)
class SharedOutput:
    """The driver's side: an empty file for ``rows`` rows, read back as one array once every shard is written."""

    path: str
    rows: int

    @classmethod
    def create(cls, rows: int, row_bytes_hint: int) -> SharedOutput:
        """A new empty file in ``/dev/shm`` when it has room for ``rows × row_bytes_hint`` bytes twice over, else in the temp folder."""
        folder = Path(tempfile.gettempdir())
        if _SHM.is_dir() and os.access(_SHM, os.W_OK) and shutil.disk_usage(_SHM).free > 2 * rows * row_bytes_hint:
            folder = _SHM
        path = folder / f"vigil-scores-{uuid.uuid4().hex}"
        path.touch(mode=0o600)
        return cls(str(path), rows)

    def array(self, written: list[Written]) -> np.ndarray:
        """The scores, as a writable array over the file, which is unlinked (its pages live as long as the array)."""
        try:
            kinds = {(w.dtype, w.row_shape) for w in written}
            if len(kinds) != 1 or sum(w.rows for w in written) != self.rows:
                raise VigilError(f"shared output {self.path}: expected {self.rows} rows of one shape, got {sorted(kinds)}"
                                 f" in {sum(w.rows for w in written)} rows")
            dtype, row_shape = kinds.pop()
            if self.rows == 0:
                return np.empty((0, *row_shape), dtype=dtype)
            return np.memmap(self.path, dtype=dtype, mode="r+", shape=(self.rows, *row_shape)).view(np.ndarray)
        finally:
            self.discard()

    def discard(self) -> None:
        """Unlink the file (mappings of it stay valid)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
