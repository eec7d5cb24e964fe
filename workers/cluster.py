"""Connect to Ray once per process: a running cluster when given its address, else a local one.

A local Ray is watched by :mod:`workers.reaper`, so none of its processes
outlives this one, even after ``kill -9``.
"""

from __future__ import annotations

import inspect
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
import ray._private.parameter as ray_parameter

from suite.errors import VigilError
from suite.processes import connect_error
from workers.reaper import start_reaper

AUTH_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


class _TokenAuthNotice(logging.Filter):
    """Drops Ray's "Token authentication is enabled" notice, printed on every ``ray.init``.

    Auth stays on; the notice says only that, at WARNING, on every run's console.
    Ray's other auth warnings (e.g. auth disabled) still show.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled")


logging.getLogger(AUTH_NOTICE_LOGGER).addFilter(_TokenAuthNotice())

# Watchdogs of the local Rays this process started; kept referenced, since closing the pipe is their signal.
_reapers: list[subprocess.Popen[bytes]] = []


def ensure_ray(address: str | None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> str:
    """Make sure this process is connected to Ray and return the cluster's address.

    Args:
        address: a running cluster's GCS address (``host:port``); ``None`` starts a
            local Ray in this process. ``"auto"`` is refused: it may attach to
            someone else's Ray on the same machine. An address where nothing
            listens is refused within seconds (Ray itself would retry for minutes).
        num_cpus: CPUs for a local Ray (ignored when connecting).
        num_gpus: GPUs for a local Ray (ignored when connecting).

    Returns:
        The GCS address of the cluster this process is connected to.
    """
    if address == "auto":
        raise VigilError("ray address: expected an explicit host:port or nothing (local Ray), got 'auto'")
    if not ray.is_initialized():
        if address:
            _check_listening(address)
            ray.init(address=address, log_to_driver=False)
        else:
            with _without_cluster_monitors():
                ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)
            reaper = start_reaper(_local_ray_pids())
            if reaper is not None:
                _reapers.append(reaper)
    return ray.get_runtime_context().gcs_address


@contextmanager
def _without_cluster_monitors() -> Iterator[None]:
    """Inside the block, a local Ray that ``ray.init`` starts runs no autoscaler monitor and no log monitor.

    A one-machine Ray of fixed size has nothing to autoscale, and with
    ``log_to_driver=False`` no worker log is streamed to the driver (workers still
    write their logs under Ray's session folder). The two are Python processes
    that cost ~1.2 s of CPU while a run starts, on 2 cores (issue 18). ``ray start``
    has switches for both (``--no-monitor``, ``--include-log-monitor=false``);
    ``ray.init`` has none, so the parameters it builds its node from get them for
    the block's length. Where a Ray release names them differently, nothing changes.
    """
    original = ray_parameter.RayParams
    if not {"no_monitor", "include_log_monitor"} <= set(inspect.signature(original.__init__).parameters):
        yield
        return

    class _QuietHead(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "no_monitor": True, "include_log_monitor": False})

    ray_parameter.RayParams = _QuietHead
    try:
        yield
    finally:
        ray_parameter.RayParams = original


def _check_listening(address: str, wait_s: float = 5.0) -> None:
    """Refuse an address where nothing accepts connections, within ``wait_s``.

    ``ray.init`` on a dead GCS address retries for many minutes, printing only C++ warnings
    (measured: still retrying after 5 minutes), so a cluster that went away would look like
    a run that hangs.

    Raises:
        VigilError: ``address`` is not ``host:port``, or nothing listens there.
    """
    host, _, port = address.split("://", 1)[-1].rpartition(":")  # a Ray Client ray://host:port too
    if not host or not port.isdigit():
        raise VigilError(f"ray address: expected host:port, got {address!r}")
    deadline = time.monotonic() + wait_s
    while (error := connect_error(host.strip("[]"), int(port), timeout_s=max(0.1, min(2.0, deadline - time.monotonic())))) is not None:
        if time.monotonic() >= deadline:
            raise VigilError(f"ray address {address}: no Ray cluster answers there ({error.strerror or error}); is it running?")
        time.sleep(0.25)


def _local_ray_pids() -> list[int]:
    """The processes of the local Ray this process started (gcs_server, raylet, monitors)."""
    node = getattr(ray._private.worker, "_global_node", None)  # no public API lists them
    processes = getattr(node, "all_processes", None) or {}
    return [info.process.pid for infos in processes.values() for info in infos if getattr(info, "process", None) is not None]
