"""bench/scale.py's inputs: the table is written in row groups and carries a signal, the model computes it, `vigil validate` accepts the suite.

The full bench (real `vigil run` on 100k+ rows) is `python bench/scale.py`; these
tests check only what it writes, on a few hundred rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from bench.proc_tree import descendants, kill_tree
from bench.scale import milestones, parse_size
from bench.scale_data import FEATURES, SEGMENTS, linear_map, size_name, write_bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bench(tmp_path_factory.mktemp("scale"), rows=1000, chunk_rows=256)


def test_table_is_written_in_chunks_with_the_suites_columns(suite: Path) -> None:
    table = pq.ParquetFile(suite.parent / "table-1k.parquet")
    assert table.metadata.num_rows == 1000
    assert [table.metadata.row_group(i).num_rows for i in range(table.metadata.num_row_groups)] == [256, 256, 256, 232]
    frame = table.read().to_pandas()
    assert frame["sample_id"].tolist() == list(range(1000))
    assert set(frame["segment"]) == set(SEGMENTS)
    assert set(frame["label"]) == set(range(10))
    doc = yaml.safe_load(suite.read_text())
    assert doc["datasets"][0]["features"] == FEATURES and doc["slices"] == [{"column": "segment"}]
    assert doc["bootstrap"]["resamples"] == 1000 and doc["workers"]["num_actors"] == 2
    assert "drift" not in doc and "perturbations" not in doc


def test_model_computes_the_labels_map_so_metrics_have_something_to_measure(suite: Path) -> None:
    frame = pq.read_table(suite.parent / "table-1k.parquet").to_pandas()
    features = frame[FEATURES].to_numpy()
    logits = torch.jit.load(str(suite.parent / "mlp.pt"))(torch.from_numpy(features)).detach().numpy()
    np.testing.assert_allclose(logits, features @ linear_map(), atol=1e-4)
    hits = logits.argmax(axis=1) == frame["label"].to_numpy()
    by_segment = [hits[frame["segment"].to_numpy() == s].mean() for s in SEGMENTS]
    assert 0.4 < by_segment[0] < 0.8  # strong signal on segment a, far above chance (0.1) and below certainty
    assert by_segment[0] > by_segment[-1] > 0.1  # weaker on d: slices differ


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first, second = (write_bench(tmp_path / name, rows=300, chunk_rows=128) for name in ("a", "b"))
    assert first.read_text() == second.read_text()  # the suite pins both files' sha256


def test_vigil_validate_accepts_the_suite(suite: Path, tmp_path: Path) -> None:
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(suite)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ok: suite scale-1k (1 model loaded: torchscript; 1 dataset: 1 evaluation" in done.stdout


def test_sizes_parse_and_name_each_other() -> None:
    assert [parse_size(s) for s in ("100k", "1M", "10M", "2500", "1.5M")] == [100_000, 1_000_000, 10_000_000, 2500, 1_500_000]
    assert [size_name(n) for n in (100_000, 1_000_000, 10_000_000, 2500, 1_500_000)] == ["100k", "1M", "10M", "2500", "1500k"]
    with pytest.raises(SystemExit, match="expected sizes like 100k"):
        parse_size("lots")


def test_kill_tree_ends_children_and_grandchildren() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(60)'])"])
    deadline = time.monotonic() + 30
    while len(descendants(parent.pid)) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = descendants(parent.pid)[0]
    kill_tree(parent.pid)
    assert parent.wait(10) == -9
    deadline = time.monotonic() + 10
    while Path(f"/proc/{grandchild}").exists() and _state(grandchild) != "Z" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{grandchild}").exists() or _state(grandchild) == "Z"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_milestones_are_read_from_vigils_progress_lines() -> None:
    lines = [(2.0, "running suite.yaml …"), (9.5, "2026-11-26 09:39:41,724\tINFO worker.py:2038 -- Started a local Ray instance."),
             (12.0, "infer: started, 1 to do"), (14.0, "infer: 1/2, 4 s"), (24.0, "infer: done, 2/2 in 12 s"), (25.0, "score: done, 3/3 in 0 s")]
    assert milestones(lines) == {"prepared": 2.0, "ray up": 9.5, "infer start": 12.0, "infer done": 24.0, "score done": 25.0}
