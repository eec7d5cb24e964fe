"""Half-written files in the caches: a killed writer's are swept, a live writer's never are.

Fault injection: real writer processes (a CSV's Parquet copy, a cached predictions file) are
killed with SIGKILL part-way, so nothing of theirs runs after the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.commit import claim_run
from storage.cache import PredictionCache
from storage.csv_files import parquet_copy
from storage.partial import PartialFile, sweep_partial_files
from suite.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Writes a Parquet file through the product's writers and stops (SIGSTOP to itself) part-way: killed there by the test.
_WRITER = """
import os, signal, sys
import pandas as pd, pyarrow as pa
from pathlib import Path
kind, target = sys.argv[1], Path(sys.argv[2])
if kind == "appender":  # how the CSV copy writes
    from storage.request_log import ParquetAppender
    out = ParquetAppender(target)
    out.append(pa.table({"x": list(range(1000))}))
    print("writing", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
else:  # how the prediction cache writes: stopped inside the row-group writer
    import storage.parquet as parquet
    def stop(frame, path):
        Path(path).write_bytes(b"PAR1 half")
        print("writing", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
    parquet.write_parquet_row_groups = stop
    from storage.cache import PredictionCache
    PredictionCache(target).put("k", pd.DataFrame({"x": [1.0]}))
"""


def _killed_writer(kind: str, target: Path) -> Path:
    """Start a writer, wait until it is part-way, SIGKILL it; returns the partial file it left."""
    before = set(target.parent.glob(".*.tmp")) if target.parent.is_dir() else set()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        folder = target.parent if kind == "appender" else target / "predictions"
        left = [p for p in folder.glob(".*.tmp") if p not in before]
        assert len(left) == 1, left
        assert sweep_partial_files(folder, grace_s=0) == []  # its writer is alive (stopped, not dead)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert left[0].exists()
    return left[0]


def _aged(path: Path, seconds: float = 120) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_a_killed_csv_copy_leaves_a_partial_file_that_the_next_copy_sweeps(tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "csv"
    left = _killed_writer("appender", folder / ("a" * 64 + ".parquet"))
    csv = tmp_path / "t.csv"
    pd.DataFrame({"x": np.arange(10.0), "label": np.arange(10) % 2}).to_csv(csv, index=False)
    assert parquet_copy(csv, "b" * 64, folder, chunk_rows=4) is not None
    assert left.exists()  # fresh: its writer might only now be taking its lock
    _aged(left)
    live = PartialFile(folder / "c.parquet")  # a copy in progress in this process
    _aged(live.path)
    assert parquet_copy(csv, "d" * 64, folder, chunk_rows=4) == folder / ("d" * 64 + ".parquet")
    assert not left.exists() and live.path.exists()
    live.abort()
    assert sorted(p.name for p in folder.iterdir()) == ["b" * 64 + ".parquet", "d" * 64 + ".parquet"]


def test_a_run_sweeps_predictions_a_killed_run_left_half_written(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", index_url="sqlite://", ray_address=None)
    left = _killed_writer("cache", settings.cache_dir)
    _aged(left)
    cache = PredictionCache(settings.cache_dir)
    cache.put("kept", pd.DataFrame({"x": [1.0, 2.0]}))
    with claim_run("next-run", settings):
        assert not left.exists()
    assert cache.has("kept") and [p.name for p in (settings.cache_dir / "predictions").iterdir()] == ["kept.parquet"]


def test_only_partial_file_names_are_swept(tmp_path: Path) -> None:
    names = [".x.parquet." + "0" * 32 + ".tmp", ".x.parquet.tmp", "x.parquet", ".x.parquet." + "0" * 32 + ".bak", "y.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        _aged(tmp_path / name)
    assert sweep_partial_files(tmp_path) == [tmp_path / names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    assert sweep_partial_files(tmp_path / "absent") == []


def test_a_committed_partial_file_replaces_its_target_and_an_aborted_one_is_gone(tmp_path: Path) -> None:
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    part = PartialFile(target)
    part.path.write_bytes(b"new")
    assert part.commit(fsync=True) == target and target.read_bytes() == b"new" and not part.path.exists()
    dropped = PartialFile(target)
    dropped.abort()
    assert not dropped.path.exists() and target.read_bytes() == b"new"
    with pytest.raises(FileNotFoundError):
        PartialFile(tmp_path / "missing" / "t.bin")


def test_a_filesystem_without_locks_still_writes_and_sweeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: flock fails as on a mount without locks (ENOLCK); writes go on, nothing is removed on a guess."""
    import errno

    import storage.partial as partial

    def no_locks(fd: int, kind: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(partial.fcntl, "flock", no_locks)
    part = PartialFile(tmp_path / "t.bin")
    part.path.write_bytes(b"x")
    _aged(part.path)
    assert sweep_partial_files(tmp_path) == [] and part.path.exists()
    assert part.commit().read_bytes() == b"x"
    assert partial.hold(tmp_path / "t.bin") and not partial.remove_if_unheld(tmp_path / "t.bin")
