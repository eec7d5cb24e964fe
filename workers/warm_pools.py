"""Warm inference pools kept for the life of a process, one per model and cluster.

Example:
    A stage asks for its model's pool; a later stage (or Prefect task) in the same process gets
    the same warm actors back; :func:`close_pools` stops them all at the end of a run::

        pool = get_pool(spec, base_dir, task="classification", num_classes=10, workers=WorkersSpec())
        scores = pool.predict(features, sample_ids)
        close_pools()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from suite.spec import ModelSpec, WorkersSpec
from workers.pool import InferencePool

_POOLS: dict[tuple[Any, ...], InferencePool] = {}


def get_pool(
    spec: ModelSpec,
    base_dir: Path,
    *,
    task: str,
    num_classes: int | None,
    workers: WorkersSpec,
    name_prefix: str = "vigil",
    on_wait: Callable[[str], None] | None = None,
) -> InferencePool:
    """A warm pool for this model, reused across calls (and Prefect tasks) in one process.

    Pools are keyed by the cluster, the model (its pinned sha256 and full spec)
    and the resources asked for. ``on_wait`` hears about a wait for the cluster's room
    when a pool is started (see :class:`InferencePool`).
    """
    key = (ray.get_runtime_context().get_job_id(), spec.sha256, spec.model_dump_json(), str(base_dir), task, num_classes, workers)
    pool = _POOLS.get(key)
    if pool is None or pool.closed:
        pool = _POOLS[key] = InferencePool(
            spec, base_dir, task=task, num_classes=num_classes, workers=workers, name_prefix=name_prefix, on_wait=on_wait
        )
    return pool


def close_pools() -> None:
    """Stop every pool :func:`get_pool` started in this process."""
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
