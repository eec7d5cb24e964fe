"""Ray for long-lived processes: ``vigil serve``'s one head, and joining it before a run needs it.

The CLI reaches Ray only through here (only ``workers/`` imports Ray): ``vigil
serve`` starts :func:`serve_head` once, and its warm spares (:mod:`cli.warm`)
call :func:`join` while they wait for a client, so the run they serve finds Ray
connected.
"""

from __future__ import annotations

import os
from pathlib import Path

from workers.cluster import ensure_ray
from workers.head import RayHead

__all__ = ["RayHead", "join", "serve_head"]


def serve_head(folder: Path, slots: int) -> RayHead:
    """Spawn (without waiting) a local Ray head with the machine's CPUs × ``slots`` logical CPUs.

    ``slots`` is the number of runs allowed at once (``vigil serve --cluster-slots``):
    each sees the whole machine, as it did when each started its own Ray, so a
    second run's actors never wait for the first's to finish.
    """
    return RayHead(folder, num_cpus=(os.cpu_count() or 1) * slots).spawn()


def join(address: str) -> str:
    """Connect this process to the running cluster at ``address`` now; returns its GCS address."""
    return ensure_ray(address)
