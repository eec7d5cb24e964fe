"""Waiting for a pool's actors to be placed, and saying what they wait for.

Ray queues an actor that asks for more than the cluster has free; without a word
that looks like a hang. :func:`await_placement` waits up to a deadline and tells
its caller every few seconds what is pending and what the cluster has free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError

WAIT_NOTE_EVERY_S = 5.0
"""While actors wait to be placed, how often ``on_wait`` hears about it."""


def asked(options: dict[str, Any]) -> str:
    """What each actor asks the cluster for, as ``1 CPU`` or ``1 CPU, 0.5 GPU``, from its Ray options."""
    parts = [f"{options['num_cpus']:g} CPU"] + ([f"{options['num_gpus']:g} GPU"] if "num_gpus" in options else [])
    return ", ".join(parts)


def free_of_total() -> str:
    """The cluster's free and total CPUs and GPUs, e.g. ``cluster has 0 of 2 CPUs, 1 of 1 GPUs free``."""
    free, total = ray.available_resources(), ray.cluster_resources()
    parts = [f"{free.get(k, 0):g} of {total[k]:g} {k}s" for k in ("CPU", "GPU") if total.get(k)]
    return "cluster has " + ", ".join(parts) + " free" if parts else "cluster has no CPUs or GPUs"


def await_placement(actors: list[Any], each: str, timeout_s: float, on_wait: Callable[[str], None] | None) -> list[dict[str, Any]]:
    """Every actor's ``placement()``, waiting up to ``timeout_s``; ``on_wait`` hears what is pending every few seconds.

    Args:
        actors: the pool's actors (each with a ``placement`` method).
        each: what one actor asks for (:func:`asked`), for the notes.
        timeout_s: the deadline.
        on_wait: told, e.g., ``waiting 5 s for 1 of 2 actors (1 CPU each) to be placed and load the model; cluster has …``.

    Raises:
        GetTimeoutError: some actor was not ready in time.
        RayActorError: an actor failed to start (at once, not at the deadline).
    """
    refs = [actor.placement.remote() for actor in actors]
    began, every = time.monotonic(), min(WAIT_NOTE_EVERY_S, timeout_s / 3)
    while True:
        left = timeout_s - (time.monotonic() - began)
        ready, pending = ray.wait(refs, num_returns=len(refs), timeout=max(0.0, min(every, left)))
        ray.get(ready)  # an actor that failed to load fails the pool now, not at the deadline
        if not pending:
            return ray.get(refs)
        if left <= every:
            raise GetTimeoutError
        if on_wait is not None:
            on_wait(f"waiting {time.monotonic() - began:.0f} s for {len(pending)} of {len(refs)} actors ({each} each)"
                    f" to be placed and load the model; {free_of_total()}")
