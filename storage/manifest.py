"""A run's manifest: the sha256 and size of every file it committed, and checking them again.

The commit (:meth:`storage.store.ResultStore.commit_run`) writes
``runs/<run_id>/manifest.json`` once the run folder is in place and the results
Parquet is written, and records the manifest's own sha256 in the index row
(provenance ``manifest_sha256``) in the same transaction that makes the run
visible, so neither the files nor the manifest can be rewritten unnoticed. A
crash before that transaction leaves a folder that recovery undoes like any
other (:mod:`storage.recovery`). Runs committed before manifests have no
``manifest_sha256``; :func:`verify_manifest` says so instead of guessing.

Paths in a manifest are relative to ``VIGIL_HOME``
(``runs/<id>/gates.json``, ``results/suite=…/date=…/run-<id>.parquet``).

Example:
    >>> manifest_entries({}) == {"version": 1, "files": {}}
    True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from collections.abc import Iterable
from typing import Any

import pandas as pd

from storage.checksums import sha256_file
from storage.dataset_files import release_freed_memory
from storage.run_folders import TOKEN_FILE, describe, fsync_dir
from suite.errors import VigilError

MANIFEST_FILE = "manifest.json"
"""The manifest's name inside a run folder."""
MANIFEST_KEY = "manifest_sha256"
"""The provenance key holding the sha256 of a run's manifest file."""
_NOT_LISTED = {MANIFEST_FILE, f".{MANIFEST_FILE}.tmp", TOKEN_FILE}  # the manifest (hashed in the index) and the commit's token (new per commit)


def frame_sha256(frame: pd.DataFrame) -> str:
    """A hash of a frame's column names and values (not of its Parquet bytes, which vary with the writer)."""
    return _rows_sha256(frame.columns, [frame])


def _rows_sha256(columns: Iterable[Any], parts: Iterable[pd.DataFrame]) -> str:
    """:func:`frame_sha256` of the frame whose ``columns`` are these and whose rows are ``parts``' in order (row hashes are per row)."""
    digest = hashlib.sha256(json.dumps([str(c) for c in columns]).encode())
    for part in parts:
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def parquet_frame_sha256(path: Path, batch_rows: int = 1 << 16) -> str:
    """:func:`frame_sha256` of ``pd.read_parquet(path)``, read a record batch at a time (row hashes do not depend on other rows).

    A run's predictions are hashed for its provenance this way: at 10M rows the whole frame
    held ~1 GB more than the rest of the run's driver. One batch is decoded at a time, without
    threads or pre-buffering, and the pages freed are handed back at the end: Arrow's defaults
    read ahead and kept what they read: +575 MiB of peak RSS for 10M predictions (ids, labels,
    10 float32 scores), the peak of ``vigil run``'s driver at that size; +138 MiB so (a row
    group's column chunks, read whole), and 4.7 s instead of 6.5. The hash is the same.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path, pre_buffer=False)
    columns = source.schema_arrow.empty_table().to_pandas().columns  # as pd.read_parquet names them
    batches = (pa.Table.from_batches([b]).to_pandas() for b in source.iter_batches(batch_size=batch_rows, use_threads=False))
    digest = _rows_sha256(columns, batches)
    release_freed_memory()
    return digest


def run_files(home: Path, run_dir: Path, results: Path | None) -> dict[str, Path]:
    """Every file of a run, by its path relative to ``home``: the run folder's files and its results Parquet."""
    files = {}
    if run_dir.is_dir():
        for folder, _dirs, names in os.walk(run_dir):
            for name in names:
                path = Path(folder) / name
                if not (Path(folder) == run_dir and name in _NOT_LISTED):
                    files[path.relative_to(home).as_posix()] = path
    if results is not None and results.is_file():
        files[results.relative_to(home).as_posix()] = results
    return dict(sorted(files.items()))


def manifest_entries(files: dict[str, Path]) -> dict[str, Any]:
    """The manifest document of ``files``: ``{"version": 1, "files": {path: {"sha256", "bytes"}}}``."""
    return {"version": 1, "files": {name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for name, p in files.items()}}


def write_manifest(home: Path, run_dir: Path, results: Path | None) -> str:
    """Write ``run_dir/manifest.json`` listing the run's files, durably; returns the manifest's sha256."""
    target, temporary = run_dir / MANIFEST_FILE, run_dir / f".{MANIFEST_FILE}.tmp"
    try:
        body = json.dumps(manifest_entries(run_files(home, run_dir, results)), indent=1, sort_keys=True).encode()
        with temporary.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        fsync_dir(run_dir)
    except OSError as error:
        raise VigilError(f"run folder {run_dir}: could not write its manifest: {describe(error)}; nothing was recorded") from error
    return hashlib.sha256(body).hexdigest()


def verify_manifest(home: Path, run_dir: Path, results: Path | None, recorded: str) -> list[str]:
    """What differs between a run's files and its manifest: one line per altered, missing or extra file.

    Args:
        home: ``VIGIL_HOME``.
        run_dir: ``runs/<run_id>``.
        results: The run's results Parquet, where the index says it is.
        recorded: The manifest sha256 the index holds (``manifest_sha256``).

    Returns:
        Empty when every file matches; else lines such as ``altered: runs/r1/gates.json``.
    """
    path = run_dir / MANIFEST_FILE
    if not path.is_file():
        return [f"missing: {path.relative_to(home).as_posix()}"]
    body = path.read_bytes()
    if hashlib.sha256(body).hexdigest() != recorded:
        return [f"altered: {path.relative_to(home).as_posix()} (its sha256 is not the one the index recorded)"]
    listed = json.loads(body)["files"]
    present = run_files(home, run_dir, results)
    if results is not None:  # a results file moved or removed by hand is still the run's
        present.setdefault(results.relative_to(home).as_posix(), results)
    problems = []
    for name, entry in listed.items():
        found = present.get(name)
        if found is None or not found.is_file():
            problems.append(f"missing: {name}")
        elif found.stat().st_size != entry["bytes"] or sha256_file(found) != entry["sha256"]:
            problems.append(f"altered: {name}")
    problems += [f"extra: {name}" for name in present if name not in listed]
    return problems
