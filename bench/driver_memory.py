"""Driver memory of ``vigil run`` at scale (issue 18): a synthetic table, a torchscript MLP, one run.

Writes an n-row Parquet table (64 float32 features, a 10-class label, a 4-value string
slice column), an MLP 64→hidden→hidden→10 with random weights and a suite, then runs
``vigil run`` in a child process whose peak RSS (``ru_maxrss`` of the driver itself, read
at its exit, not its Ray workers') and wall time are printed as one JSON line.

    python bench/driver_memory.py --rows 1000000 --resamples 50 [--csv]

``--csv`` writes the table as CSV (708 MB at 1M rows), which a run holds in its Parquet
copy (``storage/csv_files.py``): at 1M rows, 736 MiB in 32.0 s, against 2,054 MiB in
35.8 s when the CSV was read whole and 536 MiB in 23.6 s from Parquet (idle machine).

Measured on the shared 2-core dev machine (busy: wall times are loose), 1M rows, hidden 512,
5 metrics, 50 resamples, 2 actors: before issue 18 the driver peaked at 2.96 GB (440 s); with
the features left in the file, 2.10 GB (221 s) at 50 resamples, 1.21 GB at 2 resamples and
2 metrics (hidden 64): at 50 the peak is the scoring stage's bootstrap, its (B, n) counts
(evaluators', another issue). ``tests/pipeline/test_driver_memory.py`` measures the
growth per row between two sizes: ~1,490 B/row before, < 300 after. With scoring streamed
through ``evaluators.chunked`` (no float64 copies of all scores, no ``(n, m)`` statistics),
1M rows, hidden 512, 5 metrics, 50 resamples: 1.31 GB (104 s, same busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Run the CLI in this child and write its own peak RSS (KiB on Linux) when it exits.
_CHILD = """
import atexit, resource, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
from cli.main import main
sys.argv[0] = "vigil"
main()
"""


def write_table(path: Path, rows: int, *, features: int = 64, classes: int = 10, seed: int = 0, group_rows: int = 65_536) -> None:
    """An n-row table written in row groups (never whole in memory): ``f0..``, ``label``, ``region``; a ``.csv`` path gets CSV."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    regions = np.array(["north", "south", "east", "west"])
    writer = None
    for start in range(0, rows, group_rows):
        n = min(group_rows, rows - start)
        x = rng.standard_normal((n, features), dtype=np.float32)
        columns = {f"f{i}": x[:, i] for i in range(features)}
        columns["label"] = rng.integers(0, classes, n).astype(np.int64)
        columns["region"] = regions[rng.integers(0, 4, n)]
        table = pa.table(columns)
        if path.suffix == ".csv":
            writer = writer or pa_csv.CSVWriter(path, table.schema)
            writer.write_table(table)
            continue
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=group_rows)
    assert writer is not None
    writer.close()


def write_model(path: Path, *, features: int = 64, hidden: int = 512, classes: int = 10, seed: int = 0) -> None:
    """A torchscript MLP with random weights."""
    import torch

    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(torch.nn.Linear(features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                              torch.nn.ReLU(), torch.nn.Linear(hidden, classes)).eval()
    torch.jit.script(mlp).save(str(path))


def write_suite(folder: Path, *, resamples: int, workers: int = 2, metrics: str = "[accuracy, macro_f1, log_loss, roc_auc, ece]",
                baseline: bool = False, data: str = "data.parquet") -> Path:
    """A suite over ``data`` (``data.parquet`` by default) and ``mlp.pt`` in ``folder``, sliced by region.

    ``baseline``: ``mlp-baseline.pt`` (written by the caller) joins as the baseline, with paired drop gates on
    accuracy (McNemar), per slice too, and log loss: what their predictions stream through is the driver's too.
    """
    import hashlib

    suite = folder / "suite.yaml"
    sha = hashlib.sha256((folder / "mlp.pt").read_bytes()).hexdigest()
    extra = ""
    if baseline:
        base_sha = hashlib.sha256((folder / "mlp-baseline.pt").read_bytes()).hexdigest()
        extra = f"""  - name: baseline
    role: baseline
    format: torchscript
    path: mlp-baseline.pt
    sha256: {base_sha}
    output: logits
    batch_size: 8192
gates:
  - {{metric: accuracy, max_drop_vs: baseline, max_drop: 0.05, significance: 0.05}}
  - {{metric: accuracy, per_slice: true, max_drop_vs: baseline, max_drop: 0.05, significance: 0.05}}
  - {{metric: log_loss, max_drop_vs: baseline, max_drop: 0.5}}
"""
    suite.write_text(f"""name: scale
task: classification
seed: 1
models:
  - name: mlp
    role: candidate
    format: torchscript
    path: mlp.pt
    sha256: {sha}
    output: logits
    batch_size: 8192
{extra}datasets:
  - name: table
    path: {data}
    label: label
    features: [{", ".join(f"f{i}" for i in range(64))}]
metrics: {metrics}
primary_metric: accuracy
slices:
  - column: region
bootstrap:
  resamples: {resamples}
workers:
  num_actors: {workers}
  cpus_per_actor: 1
""")
    return suite


def run_vigil(suite: Path, home: Path, env: dict[str, str] | None = None, timeout_s: float | None = None) -> dict[str, float]:
    """Run ``vigil run suite`` in a child; its driver's peak RSS (bytes) and wall seconds.

    A child still running after ``timeout_s`` is made to print every thread's Python stack
    (faulthandler, on SIGABRT) and killed; the error carries its output, so a hang shows where it waits.
    """
    peak = home / "peak_kib"
    environ = {**os.environ, "VIGIL_HOME": str(home / "vigil"), "PREFECT_HOME": str(home / "prefect"), "PYTHONFAULTHANDLER": "1",
               "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **(env or {})}
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(peak), "run", str(suite)], env=environ, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGABRT)
        out, err = child.communicate()
        raise RuntimeError(f"vigil run still running after {timeout_s:g} s; its stacks:\n{out[-2000:]}{err[-12000:]}") from None
    wall = time.perf_counter() - began
    if child.returncode not in (0, 1):  # 1: a gate failed, the run was recorded
        raise RuntimeError(f"vigil run failed ({child.returncode}): {out[-2000:]}{err[-4000:]}")
    return {"peak_rss_bytes": int(peak.read_text()) * 1024, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--resamples", type=int, default=50)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--csv", action="store_true", help="the table as CSV (a large one is held in a Parquet copy), not Parquet")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="vigil-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = "data.csv" if args.csv else "data.parquet"
    if not (folder / data).is_file():
        write_table(folder / data, args.rows)
    write_model(folder / "mlp.pt", hidden=args.hidden)
    suite = write_suite(folder, resamples=args.resamples, data=data)
    home = Path(tempfile.mkdtemp(prefix="vigil-scale-home-"))
    result = run_vigil(suite, home)
    print(json.dumps({"rows": args.rows, "data": data, "hidden": args.hidden, "resamples": args.resamples, **result,
                      "bytes_per_row": result["peak_rss_bytes"] / args.rows}))
    print(f"driver_peak_mb: {result['peak_rss_bytes'] / 2**20:.0f}")


if __name__ == "__main__":
    main()
