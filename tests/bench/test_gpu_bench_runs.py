"""The GPU benches run end to end without CUDA (a simulated Ray GPU, the actors on the CPU, a CPU stand-in for the tuned loop).

A GPU machine is lent to few sessions and for minutes: a bench that fails there (a bad
model name, a missing import) wastes the session. These runs exercise every line but
the CUDA loop itself, on a few thousand rows; the figures they print mean nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

_RUN_CUDA_BENCH = """
import argparse, sys, tempfile
from pathlib import Path
sys.path[:0] = ["bench"]
import inference_cuda
args = argparse.Namespace(rows=[20000, 8000], batch_size=4096, images=2, image_batch=2, precisions=["bf16"], repeats=1,
                          pool_config=sys.argv[1] if len(sys.argv) > 1 else None)
with tempfile.TemporaryDirectory() as tmp:
    print(f"ratio_vs_tuned_torch: {inference_cuda.run(args, Path(tmp)):.2f}")
"""


def _bench(*argv: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()


KNOBS = {"gpu_calls": 1, "gpu_shards": 2, "gpu_guided": True, "shared_output": False, "gather_threads": 2,
         "gpu_taper": 2}  # none the default


def test_the_cuda_bench_runs_both_models_at_every_mlp_size_at_the_knobs_given(tmp_path: Path) -> None:
    (tmp_path / "knobs.json").write_text(json.dumps(KNOBS))
    lines = _bench("-c", _RUN_CUDA_BENCH, str(tmp_path / "knobs.json"))
    assert not [line for line in lines if "FAILED" in line], lines
    assert f"pool knobs: {KNOBS}" in lines
    starts = [line for line in lines if " pool start " in line]
    assert len(starts) == 3 and all("gpu_calls 1, guided, gather threads 2, object store;" in line for line in starts), starts
    summary = next(line for line in lines if line.startswith("summary: "))
    assert [part.rsplit(" ", 1)[0] for part in summary.removeprefix("summary: ").split(", ")] == [
        "mlp-0.008M bf16", "mlp-0.02M bf16", "resnet18 bf16"]  # the smaller MLP size first, reported apart
    assert any(line.startswith("(info) ratio_at_0.008M_rows: ") for line in lines)
    assert any("pre-pinned loop" in line for line in lines) and lines[-1].startswith("ratio_vs_tuned_torch: ")
    assert float(lines[-1].split(": ")[1]) > 0


def test_the_knob_sweep_runs_every_configuration_and_writes_its_choice_for_the_cuda_bench(tmp_path: Path) -> None:
    best = tmp_path / "best.json"
    lines = _bench("bench/gpu_sweep.py", "--rows", "12000", "--batch-size", "2048", "--precisions", "bf16", "--repeats", "1",
                   "--best-config", str(best))
    configs = [line for line in lines if line.startswith("[mlp bf16] gpu_calls ")]
    assert len(configs) == 9 and all("max |pool - tuned|" in line for line in configs), lines
    assert "gpu_calls 2 gpu_shards 16 even" in configs[0] and "gather threads 8" in configs[0] and "gather threads 0" in configs[4]
    assert "(taper 1)" in configs[0] and "(taper 2)" in configs[5] and "(taper 4)" in configs[6]
    assert "gpu_calls 1 " in configs[7] and "shared file" in configs[-1]
    assert lines[-1].startswith("best_ratio_vs_tuned_torch: ") and float(lines[-1].split(": ")[1]) > 0
    knobs = json.loads(best.read_text())
    assert set(knobs) == set(KNOBS)  # what the CUDA bench takes (the test above)
    assert any(line.startswith("best config ") for line in lines)
