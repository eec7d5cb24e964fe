"""What upstream modules do on the workers: run a module's code, or look features up in a data snapshot.

Stages are small picklable values (file paths, column positions), so the driver
ships no code or data; each worker loads a module or snapshot once and keeps it.

Example:
    >>> import numpy as np, pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"sample_id": [7, 3], "b": [70.0, 30.0]}).to_parquet(folder / "snap.parquet")
    >>> stage = SnapshotStage(str(folder / "snap.parquet"), "sample_id", (("b", 1),))
    >>> stage(np.zeros((2, 2), dtype=np.float32), np.array([3, 7])).tolist()
    [[0.0, 30.0], [0.0, 70.0]]
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from suite.errors import DataError


@lru_cache(maxsize=32)
def load_function(path: str, name: str) -> Callable[..., Any]:
    """``name`` from the Python file at ``path``, imported once per process."""
    spec = importlib.util.spec_from_file_location(f"vigil_upstream_{hashlib.sha1(path.encode()).hexdigest()[:10]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@lru_cache(maxsize=8)
def load_snapshot(path: str, key: str) -> pd.DataFrame:
    """A snapshot table indexed by its ``key`` column, read once per process."""
    file = Path(path)
    try:
        frame = pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error for the user
        raise DataError(f"snapshot {path}: cannot read it ({type(exc).__name__}: {exc})") from None
    if key not in frame.columns:
        raise DataError(f"snapshot {path}: {key}: column not found (available: {', '.join(map(str, frame.columns[:12]))})")
    if frame[key].duplicated().any():
        raise DataError(f"snapshot {path}: {key}: duplicate id {frame[key][frame[key].duplicated()].iloc[0]!r}")
    return frame.set_index(key)


@dataclass(frozen=True)
class CodeStage:
    """A transform or retriever: ``function(features)``, or ``function(features, data_path)`` when it has data."""

    path: str
    function: str
    data: str | None = None

    def __call__(self, features: Any, sample_ids: np.ndarray) -> Any:
        fn = load_function(self.path, self.function)
        return fn(features) if self.data is None else fn(features, Path(self.data))


@dataclass(frozen=True)
class SnapshotStage:
    """A data snapshot: each row's features ``columns`` (name, position) are replaced by the snapshot's values for its id."""

    path: str
    key: str
    columns: tuple[tuple[str, int], ...]

    def __call__(self, features: Any, sample_ids: np.ndarray) -> Any:
        table = load_snapshot(self.path, self.key)
        names = [name for name, _ in self.columns]
        rows = table.index.get_indexer(sample_ids)  # one lookup per shard row, not a scan of the table
        if (rows < 0).any():
            missing = np.asarray(sample_ids)[rows < 0]
            raise DataError(f"snapshot {self.path}: {self.key}: no row for id {missing[0]!r} ({len(missing)} ids missing)")
        values = table.iloc[rows][names]
        if isinstance(features, pd.DataFrame):
            out = features.copy()
            out[names] = values.to_numpy()
            return out
        out = np.array(features, copy=True)
        out[:, [position for _, position in self.columns]] = values.to_numpy(dtype=out.dtype)
        return out


def check_snapshot(stage: SnapshotStage, sample_ids: np.ndarray, where: str) -> None:
    """Fail on the driver, naming the suite field, before any shard is sent: every id must be in the snapshot."""
    try:
        stage(np.zeros((len(sample_ids), max((p for _, p in stage.columns), default=0) + 1), dtype=np.float32), sample_ids)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
