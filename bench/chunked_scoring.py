"""Time and memory of streamed scoring alone (issue 18): synthetic predictions through ``ChunkedScorer``.

Feeds ``--rows`` seeded classification predictions (10 classes float32, int32 labels, as
``pipeline/evaluate/score.py`` reads them from the cache) in 65,536-row chunks, with
``all`` plus 4 equal ``segment`` slices, through :class:`~evaluators.chunked.ChunkedScorer`
with the bench suite's metrics and 1000 resamples, in this process. Prints the wall time of
each phase (making the chunks, ``add``, ``results``; wall and CPU seconds: the shared machine's
wall times are loose) and the process's peak RSS in each
(``VmRSS`` polled every 20 ms; ``VmHWM`` at the end), as one JSON line.

    PYTHONPATH=$PWD python bench/chunked_scoring.py --rows 5000000

Measured on the shared 2-core dev machine at 5M rows (both before issue 18's changes, at
``321d6f0``, and after, in one sitting; the same 25 values and intervals, bit for bit):

============================  ==========================  ==========================
                              before                      after
============================  ==========================  ==========================
generated: add, results       8.3–10.4 s, 16.7–17.3 s     2.8–2.9 s, 7.5–7.8 s
generated: peak RSS           1.16 GB (+1.04 over 0.11)   0.57 GB (+0.46)
parquet: read, add, results   0.3 s, 8.2 s, 16.6 s        0.6 s, 3.1 s, 7.5 s
parquet: peak RSS             1.39 GB (+1.17 over 0.22)   0.80 GB (+0.58)
============================  ==========================  ==========================

(The read is the same code before and after: its 0.3 s against 0.6 s is the machine's noise.)
Reading the cache costs ~0.12 GB that does not grow with the rows (a 1Mi-row group decoded
at a time); the rest is 44 bytes per row of kept float32 scores and int32 labels (stored
once, not per slice), 4 per row of segment positions, and DeLong's ~32 per row while it
runs. Linear to 10M: ~22 s and ~1.05 GB above the process (before: ~50 s and ~2.2 GB).

``--metrics`` scores a subset (e.g. ``ece`` alone, to time its statistics and moments).
``--parquet DIR`` reads the chunks as ``vigil run`` does: the predictions written once (in a
child process) to a :class:`~storage.cache.PredictionCache` in ``DIR``, streamed by
``prediction_chunks`` with ``chunk_masks`` over the dataset's masks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# Run as a script, bench/ is first on the path and bench/drift.py would shadow the drift package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from evaluators.chunked import ChunkedScorer  # noqa: E402
from suite.spec import BootstrapSpec  # noqa: E402

METRICS = "accuracy,macro_f1,log_loss,roc_auc,ece"


def _status(field: str) -> int:
    """A ``/proc/self/status`` size in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class _Peaks(threading.Thread):
    """Polls the RSS and keeps its peak per phase."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.phase, self.peaks, self.running = "start", {}, True

    def run(self) -> None:
        while self.running:
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), _status("VmRSS"))
            time.sleep(0.02)


def chunks(rows: int, k: int, chunk: int, seconds: list[float]):
    """Seeded float32 softmax scores and int32 labels, a chunk at a time; wall and CPU time spent here added to ``seconds``."""
    for start in range(0, rows, chunk):
        began, cpu = time.perf_counter(), time.process_time()
        n = min(chunk, rows - start)
        rng = np.random.default_rng(start)
        y = rng.integers(0, k, n).astype(np.int32)
        logits = rng.normal(size=(n, k)).astype(np.float32)
        logits[np.arange(n), y] += 1.5
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        segment = rng.integers(0, 4, n)
        masks = {"all": np.ones(n, bool), **{f"segment={s}": segment == s for s in range(4)}}
        seconds[0] += time.perf_counter() - began
        seconds[1] += time.process_time() - cpu
        yield y, logits, masks


def _write(rows: int, k: int, chunk: int, directory: Path) -> None:
    """The seeded predictions as the cache holds them (a child process's work: its memory is not ours)."""
    import pandas as pd

    from storage.cache import PredictionCache
    from storage.datasets import SAMPLE_ID

    parts = list(chunks(rows, k, chunk, [0.0, 0.0]))
    scores = np.concatenate([p[1] for p in parts])
    frame = pd.DataFrame({SAMPLE_ID: np.arange(rows, dtype=np.int64), "y_true": np.concatenate([p[0] for p in parts]).astype(np.int64),
                          **{f"score_{c}": scores[:, c] for c in range(k)}})
    segment = np.concatenate([np.argmax(np.stack([p[2][f"segment={s}"] for s in range(4)]), axis=0) for p in parts])
    np.save(directory / "segment.npy", segment)
    PredictionCache(directory).put("bench", frame)


def _read(rows: int, directory: Path, seconds: list[float]) -> Iterator[tuple]:
    """The cached predictions as ``score_run`` streams them, with each chunk's masks."""
    from evaluators.slices import PackedMasks
    from pipeline.evaluate.score import chunk_masks, prediction_chunks
    from storage.cache import PredictionCache

    segment = np.load(directory / "segment.npy")
    masks = PackedMasks({"all": np.ones(rows, bool), **{f"segment={s}": segment == s for s in range(4)}})
    ids, at = np.arange(rows, dtype=np.int64), 0
    began, cpu = time.perf_counter(), time.process_time()
    for chunk_ids, y, scores in prediction_chunks(PredictionCache(directory), "bench", "classification"):
        chunk = chunk_masks(masks, ids, chunk_ids, at, "bench")
        at += len(chunk_ids)
        seconds[0] += time.perf_counter() - began
        seconds[1] += time.process_time() - cpu
        yield y, scores, chunk
        began, cpu = time.perf_counter(), time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=65_536)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--metrics", default=METRICS)
    parser.add_argument("--parquet", type=Path, help="stream the chunks from a prediction cache in this folder")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        _write(args.rows, args.classes, args.chunk, args.parquet)
        return
    if args.parquet is not None and not (args.parquet / "segment.npy").exists():
        args.parquet.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--classes", str(args.classes),
                        "--parquet", str(args.parquet), "--write-only"], check=True)
    if args.parquet is not None:
        import pipeline.evaluate.score  # noqa: F401 (its imports, Prefect's among them, before the base RSS)
    peaks = _Peaks()
    peaks.start()
    time.sleep(0.05)
    base = _status("VmRSS")
    scorer = ChunkedScorer(task="classification", metric_names=args.metrics.split(","),
                           bootstrap=BootstrapSpec(resamples=args.resamples), seed=0)
    making = [0.0, 0.0]
    peaks.phase = "add"
    began, cpu = time.perf_counter(), time.process_time()
    source = (_read(args.rows, args.parquet, making) if args.parquet is not None
              else chunks(args.rows, args.classes, args.chunk, making))
    for y, scores, masks in source:
        scorer.add(y, scores, masks)
    added, added_cpu = time.perf_counter() - began - making[0], time.process_time() - cpu - making[1]
    after_add = _status("VmRSS")
    peaks.phase = "results"
    began, cpu = time.perf_counter(), time.process_time()
    results = scorer.results()
    scored, scored_cpu = time.perf_counter() - began, time.process_time() - cpu
    time.sleep(0.05)
    peaks.running = False
    peaks.join()
    print(json.dumps({
        "rows": args.rows, "metrics": args.metrics, "source": "parquet" if args.parquet else "generated",
        "make_s": round(making[0], 1), "make_cpu_s": round(making[1], 1), "add_s": round(added, 1),
        "results_s": round(scored, 1), "add_cpu_s": round(added_cpu, 1), "results_cpu_s": round(scored_cpu, 1), "base_rss_gb": round(base / 1e9, 3), "rss_after_add_gb": round(after_add / 1e9, 3),
        "peak_rss_gb": {phase: round(v / 1e9, 3) for phase, v in peaks.peaks.items()},
        "vmhwm_gb": round(_status("VmHWM") / 1e9, 3),
        "values": {f"{r.slice}/{r.metric}": [r.value, r.ci_low, r.ci_high] for r in results},
    }))
    print(f"score_peak_rss_gb_above_base: {(_status('VmHWM') - base) / 1e9:.3f}")


if __name__ == "__main__":
    main()
