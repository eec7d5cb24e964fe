"""Drift summaries of large frames computed on Ray workers, one task per shard.

Each task runs the pure :func:`drift.scale.shard_summary` on its rows and ships
back a few kB; the driver merges them with :func:`drift.scale.merge_summaries`.
A frame is cut into ``num_shards`` row ranges that go to the object store once;
a list of Parquet paths gives one shard per file, read on the worker, so the
driver never holds the rows.

Example:
    >>> summary = summarise_shards(frame, ["x"], make_bins_spec(reference, ["x"]), 4)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import ray

from drift.scale import BinsSpec, FrameSummary, merge_summaries, shard_summary
from storage.frames import read_frame
from suite.errors import VigilError
from workers.cluster import ensure_ray


def _summarise_rows(frame: pd.DataFrame, columns: list[str], bins_spec: BinsSpec) -> FrameSummary:
    return shard_summary(frame, columns, bins_spec)


def _summarise_file(path: str, columns: list[str], bins_spec: BinsSpec) -> FrameSummary:
    return shard_summary(read_frame(Path(path), columns=columns), columns, bins_spec)


def summarise_shards(
    frame_or_paths: pd.DataFrame | Sequence[str],
    columns: Sequence[str],
    bins_spec: BinsSpec,
    num_shards: int | None = None,
    *,
    address: str | None = None,
) -> FrameSummary:
    """Summarise every row of a frame (or of Parquet files) on Ray tasks and merge the parts.

    Args:
        frame_or_paths: The rows, or Parquet files each holding one shard.
        columns: Columns to summarise; each needs an entry in ``bins_spec``.
        bins_spec: Histogram edges from :func:`drift.scale.make_bins_spec`, shared by all shards.
        num_shards: Row ranges for a frame (default: the cluster's CPUs); ignored for paths.
        address: Ray address (None: this process's Ray, started locally if needed).

    Returns:
        One merged summary per column, equal to ``shard_summary`` of all the rows.
    """
    ensure_ray(address)
    cols = list(columns)
    if isinstance(frame_or_paths, pd.DataFrame):
        frame = frame_or_paths[cols]
        shards = max(1, min(num_shards or int(ray.cluster_resources().get("CPU", 1)), len(frame) or 1))
        bounds = np.linspace(0, len(frame), shards + 1).astype(int)
        task = ray.remote(num_cpus=1)(_summarise_rows)
        futures = [task.remote(ray.put(frame.iloc[a:b]), cols, bins_spec) for a, b in zip(bounds[:-1], bounds[1:])]
    else:
        paths = [str(p) for p in frame_or_paths]
        if not paths:
            raise VigilError("summarise_shards: expected a frame or at least one Parquet path, got none")
        task = ray.remote(num_cpus=1)(_summarise_file)
        futures = [task.remote(path, cols, bins_spec) for path in paths]
    return merge_summaries(ray.get(futures))
