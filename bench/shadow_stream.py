"""Peak memory and speed of staging a large shadow log: the reader streams, so memory follows the chunk, not the log.

Writes a JSONL request log of ``--rows`` rows with ``--features`` features (plus a few
malformed lines), then, in a fresh process, stages it the way ``vigil shadow replay``
does (:func:`pipeline.shadow.log.stage_log`) and reports the growth of the peak RSS
over the process's size after imports, beside the log's size on disk.

Usage: ``python bench/shadow_stream.py [--rows 200000] [--features 64] [--chunk-rows 10000]``
Last line: ``peak_rss_mb: X`` (growth of the staging process's peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_log(path: Path, rows: int, features: int, seed: int = 0) -> int:
    """A JSONL log of ``rows`` rows (every 1000th malformed in some way); returns the bytes written."""
    import numpy as np

    from evaluators.shadow.request_log.format import LATENCY_MS, PREDICTION, REQUEST_ID, TIMESTAMP

    rng = np.random.default_rng(seed)
    names = [f"f{j}" for j in range(features)]
    bad = [b"{not json", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b""]
    with path.open("wb") as fh:
        for start in range(0, rows, 10_000):
            block = rng.normal(size=(min(10_000, rows - start), features)).round(4)
            lines = []
            for i, values in enumerate(block, start):
                if i % 1000 == 999:
                    lines.append(bad[(i // 1000) % len(bad)])
                    continue
                row = {REQUEST_ID: f"r{i}", TIMESTAMP: "2026-01-01T00:00:00Z", **dict(zip(names, values.tolist())),
                       PREDICTION: int(i % 3), LATENCY_MS: 1.5}
                lines.append(json.dumps(row).encode())
            fh.write(b"\n".join(lines) + b"\n")
    return path.stat().st_size


def stage(log: Path, features: int, chunk_rows: int) -> dict[str, float]:
    """Stage ``log`` in this process; the peak RSS growth (MB) over the size after imports, and the time taken."""
    from evaluators.shadow.request_log.decode import LogLimits
    from evaluators.shadow.request_log.rows import LogSchema
    from pipeline.shadow.log import stage_log

    schema = LogSchema(features=tuple(f"f{j}" for j in range(features)), classes=(0, 1, 2))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    counts = stage_log(log, schema, log.parent / "staged.parquet", log.parent / "quarantine.parquet", limits=LogLimits(chunk_rows=chunk_rows))
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows_in": counts.rows_in, "rows_scored": counts.rows_scored, "rows_quarantined": counts.rows_quarantined,
            "seconds": seconds, "peak_rss_growth_mb": after - before}


def measure(rows: int, features: int, chunk_rows: int) -> dict[str, float]:
    """Write a log, stage it in a fresh Python process, and return that process's figures plus the log's size."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "requests.jsonl"
        size = write_log(log, rows, features)
        code = f"import json, sys; from bench.shadow_stream import stage; print(json.dumps(stage(__import__('pathlib').Path({str(log)!r}), {features}, {chunk_rows})))"
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "log_mb": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    args = parser.parse_args()
    f = measure(args.rows, args.features, args.chunk_rows)
    print(f"log: {args.rows} rows x {args.features} features, {f['log_mb']:.1f} MB on disk; chunks of {args.chunk_rows} rows or 2 MiB")
    print(f"rows in {f['rows_in']} = scored {f['rows_scored']} + quarantined {f['rows_quarantined']}")
    print(f"staged in {f['seconds']:.2f} s ({f['rows_in'] / f['seconds']:.0f} rows/s)")
    print(f"peak_rss_mb: {f['peak_rss_growth_mb']:.1f}")


if __name__ == "__main__":
    main()
