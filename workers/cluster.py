"""Connect to Ray once per process: a running cluster when given its address, else a local one.

A local Ray is watched by :mod:`workers.reaper`, so none of its processes
outlives this one, even after ``kill -9``.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
import ray._private.node as ray_node
import ray._private.parameter as ray_parameter
import ray._private.services as ray_services
from ray._raylet import GcsClient

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
            with _lean_local_head():
                ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)
            reaper = start_reaper(_local_ray_pids())
            if reaper is not None:
                _reapers.append(reaper)
    return ray.get_runtime_context().gcs_address


def _shut_down() -> None:
    """Disconnect from Ray (stopping a local one) at exit, before Ray's own exit handler would.

    Ray's handler first sleeps 0.5 s so that workers' logs reach the driver's
    console; with ``log_to_driver=False`` none are streamed, and the sleep is only
    time added to every command's exit. Registered once, when this module is
    imported (after ``ray``, whose handler is registered at its import), so it
    runs first; Ray's then finds nothing to do.
    """
    if ray.is_initialized():
        ray.shutdown()


atexit.register(_shut_down)


@contextmanager
def _lean_local_head() -> Iterator[None]:
    """Inside the block, a local Ray that ``ray.init`` starts runs no autoscaler monitor, no log monitor and no API server, and is found as soon as it is up.

    A one-machine Ray of fixed size has nothing to autoscale, and with
    ``log_to_driver=False`` no worker log is streamed to the driver (workers still
    write their logs under Ray's session folder). With ``include_dashboard=False``
    the API server Ray still starts serves only Ray's usage statistics, yet
    ``ray.init`` waits (~0.9 s) until that Python process is up. The three cost
    ~2 s of CPU while a run starts, on 2 cores (issue 18). ``ray start`` has
    switches for the monitors (``--no-monitor``, ``--include-log-monitor=false``);
    ``ray.init`` has none, and no switch skips the API server. So for the block's
    length the parameters ``ray.init`` builds its node from get the switches, the
    node's API-server step does nothing, and its wait for the new raylet polls
    finely first (:func:`_await_node`). Where a Ray release names these
    differently, that part stays as Ray has it.
    """
    original_params = ray_parameter.RayParams
    original_api_server = getattr(ray_node.Node, "start_api_server", None)
    quiet = {"no_monitor", "include_log_monitor"} <= set(inspect.signature(original_params.__init__).parameters)

    class _QuietHead(original_params):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "no_monitor": True, "include_log_monitor": False})

    def _no_api_server(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("include_dashboard", args[0] if args else None):  # asked for: Ray's own
            original_api_server(self, *args, **kwargs)

    original_get_node = getattr(ray_services, "get_node", None)

    def _get_node_once_registered(gcs_address: str, node_id: str) -> Any:
        _await_node(gcs_address, node_id)
        return original_get_node(gcs_address, node_id)

    if quiet:
        ray_parameter.RayParams = _QuietHead
    if original_api_server is not None:
        ray_node.Node.start_api_server = _no_api_server
    if original_get_node is not None:
        ray_services.get_node = _get_node_once_registered
    try:
        yield
    finally:
        ray_parameter.RayParams = original_params
        if original_api_server is not None:
            ray_node.Node.start_api_server = original_api_server
        if original_get_node is not None:
            ray_services.get_node = original_get_node


def _await_node(gcs_address: str, node_id: str, wait_s: float = 30.0) -> None:
    """Return once the GCS lists node ``node_id`` (or after ``wait_s``, or at once if the GCS cannot be asked).

    ``ray.init`` waits for its new raylet to register by asking the GCS for the
    node, and a miss waits 1 s before asking again: the raylet registers once its
    agents are up (~1 s into a start on 2 cores), so a start that missed by a
    little waited a whole second more (measured: registered at 1.04 s, found at
    2.02 s). Asked here every 20 ms first, Ray's own question finds the node at once.
    """
    try:
        client = GcsClient(address=gcs_address)
    except Exception:  # noqa: BLE001 - Ray's own wait still runs
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if any(known.hex() == node_id for known in client.get_all_node_info(timeout=1)):
                return
        except Exception:  # noqa: BLE001 - not up yet: ask again
            pass
        time.sleep(0.02)


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
