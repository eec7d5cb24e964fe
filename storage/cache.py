"""A content-addressed prediction cache: (model fingerprint, data fingerprint, variant, seed) → predictions.

An unchanged re-run finds its predictions here and skips inference; the key
changes whenever anything that changes a prediction changes — the model's
checkpoint, code, init_args, output mode or libraries (its prediction
fingerprint, :mod:`pipeline.evaluate.fingerprint`), the data, the variant or (for
perturbed variants) the seed — so a stale entry is never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from storage.dataset_files import release_freed_memory
from storage.frames import read_frame, write_frame
from storage.partial import sweep_partial_files


def prediction_key(model_sha: str, data_sha: str, variant: str, seed: int) -> str:
    """The cache key of one model × dataset × variant inference.

    ``model_sha`` is the model's prediction fingerprint and ``data_sha`` the data's
    (a bare sha256 serves where nothing else can vary); ``variant`` carries its
    perturbation's version.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", variant)
    salt = "" if variant == "clean" else f"-s{seed}"
    return f"{model_sha[:20]}-{data_sha[:20]}-{safe}{salt}"


class PredictionCache:
    """Predictions stored under ``root`` by key."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """Where the predictions for ``key`` live."""
        return self.root / "predictions" / f"{key}.parquet"

    def has(self, key: str) -> bool:
        """Whether predictions for ``key`` are cached."""
        return self.path(key).is_file()

    def get(self, key: str) -> pd.DataFrame:
        """The cached predictions for ``key``."""
        return read_frame(self.path(key))

    def put(self, key: str, frame: pd.DataFrame) -> str:
        """Cache ``frame`` under ``key`` atomically; returns its URI."""
        write_frame(self.path(key), frame)
        return self.path(key).as_uri()

    def sweep_partial(self) -> list[Path]:
        """Remove predictions files a dead process left half-written (:mod:`storage.partial`); returns them."""
        return sweep_partial_files(self.root / "predictions")

    def columns(self, key: str) -> list[str]:
        """The column names of the predictions for ``key``, from the file's schema (nothing else read)."""
        return list(pq.ParquetFile(self.path(key)).schema_arrow.names)

    def column(self, key: str, name: str) -> np.ndarray:
        """One column of the predictions for ``key``, whole, in stored (dataset) row order (10M float32 scores: 40 MB)."""
        return pq.ParquetFile(self.path(key), pre_buffer=False).read(columns=[name], use_threads=False).column(0).to_numpy()

    def chunks(self, key: str, columns: list[str], batch_rows: int = 65_536) -> Iterator[dict[str, np.ndarray]]:
        """The predictions for ``key`` a record batch at a time, in stored (dataset) row order: column name → numpy array.

        Only ``columns`` are decoded; a chunk holds at most ``batch_rows`` rows, so a reader that
        accumulates what it needs (per-slice counts, compact arrays) never holds the whole table as a frame.
        """
        for batch in pq.ParquetFile(self.path(key), pre_buffer=False).iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
            yield {name: batch.column(name).to_numpy(zero_copy_only=False) for name in columns}
        release_freed_memory()  # the decoded row groups' pages, not held under what the reader does next (scoring's peak)
