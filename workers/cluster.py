"""Connect to Ray once per process: a running cluster when given its address, else a local one."""

from __future__ import annotations

import ray

from suite.errors import VigilError


def ensure_ray(address: str | None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> str:
    """Make sure this process is connected to Ray and return the cluster's address.

    Args:
        address: a running cluster's GCS address (``host:port``); ``None`` starts a
            local Ray in this process. ``"auto"`` is refused: it may attach to
            someone else's Ray on the same machine.
        num_cpus: CPUs for a local Ray (ignored when connecting).
        num_gpus: GPUs for a local Ray (ignored when connecting).

    Returns:
        The GCS address of the cluster this process is connected to.
    """
    if address == "auto":
        raise VigilError("ray address: expected an explicit host:port or nothing (local Ray), got 'auto'")
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)
    return ray.get_runtime_context().gcs_address
