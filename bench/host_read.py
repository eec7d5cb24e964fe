"""How fast rows reach a (pinned) staging buffer on this host: the host side of the GPU data path.

Rows (float32, 64 values each) are copied batch by batch into two staging
buffers (pinned when CUDA is available), the way a lane fills them, from:

* ``array``: a numpy array in memory, ``torch.copy_`` (torch's threads): the tuned loop's source;
* ``mapped``: the same rows memory-mapped from an Arrow IPC file (warm), ``torch.copy_``;
* ``lanes``: the mapped rows cut into slices copied by a thread pool
  (:func:`workers.device.parallel_copy`): how a pool lane fills its staging buffers;

each by one caller, then by two callers at once (a GPU actor runs two shards at a time).

Usage:
    PYTHONPATH=$PWD python bench/host_read.py [--rows 4000000] [--threads 8]

On a loaded 2-core CPU machine (no CUDA, 1M rows, 1 thread) all three ran at 4-6 GB/s. On the second
H200 run (8 threads) array/mapped ran at 48/47 GB/s with one caller, and ``preadv`` into the pinned
buffers (since removed from the pool) at 21 GB/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from workers.device import parallel_copy
from workers.row_files import write_rows


def _fill_all(fill, rows: int, batch: int, buffers: list[torch.Tensor], first: int = 0) -> None:
    for i, start in enumerate(range(first, first + rows, batch)):
        stop = min(start + batch, first + rows)
        fill(buffers[i % 2][: stop - start], start, stop)


def timed(fill, rows: int, batch: int, buffers: list[list[torch.Tensor]], callers: int) -> float:
    """Seconds to fill every batch once, the rows split between ``callers`` threads."""
    share = -(-rows // callers)
    jobs = [threading.Thread(target=_fill_all, args=(fill, min(share, rows - c * share), batch, buffers[c], c * share))
            for c in range(callers)]
    began = time.perf_counter()
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--batch", type=int, default=65_536)
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pin = torch.cuda.is_available()
    values = np.random.default_rng(0).standard_normal((args.rows, 64), dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        rows = write_rows(Path(folder) / "rows.arrow", values)
        with warnings.catch_warnings():  # the mapped rows are read-only; they are only read here
            warnings.simplefilter("ignore")
            mapped = torch.from_numpy(rows.read(0, args.rows))
        readers = ThreadPoolExecutor(args.threads)
        array = torch.from_numpy(values)
        fills = {
            "array": lambda out, a, b: out.copy_(array[a:b]),
            "mapped": lambda out, a, b: out.copy_(mapped[a:b]),
            "lanes": lambda out, a, b: parallel_copy(out.numpy(), mapped.numpy()[a:b], readers, args.threads),
        }
        buffers = [[torch.empty((args.batch, 64), pin_memory=pin) for _ in range(2)] for _ in range(2)]
        print(f"host read: {args.rows:,} rows ({values.nbytes / 1e9:.2f} GB), batch {args.batch:,}, {args.threads} threads,"
              f" {'pinned' if pin else 'pageable'} staging")
        for callers in (1, 2):
            for name, fill in fills.items():
                timed(fill, args.rows, args.batch, buffers, callers)  # warm: page cache, mapping, pinned pages
                seconds = statistics.median(timed(fill, args.rows, args.batch, buffers, callers) for _ in range(args.repeats))
                print(f"[host read] {name:7s} {callers} caller(s): {values.nbytes / 1e9 / seconds:6.1f} GB/s")
        readers.shutdown()


if __name__ == "__main__":
    main()
