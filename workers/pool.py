"""Sharded batch inference on warm Ray actors.

Each actor wraps a plain :class:`~workers.predictor.Predictor`, so a model is
verified and loaded once per actor and stays warm across ``predict`` calls;
:func:`get_pool` keeps pools alive across Prefect tasks in one process. The
driver puts every shard into the object store once (``ray.put``) and hands
actors references; the optional ``transform`` (e.g. a perturbation bound to its
seed) runs on the actor, so perturbed rows are made on the workers. Shards are
dealt out dynamically, two in flight per actor so none waits for its next
batch. A shard whose actor dies is retried on a replacement actor, up to
``workers.max_retries`` times; results are keyed by shard index, so nothing is
lost or counted twice.

Why a hand-written pool and not Ray Data's ``map_batches`` with a callable
class: Ray Data starts its actor pool for every dataset execution and tears it
down after, so models cannot stay warm across calls, and each execution pays
the streaming executor's start-up. ``bench/inference.py`` (200k rows, MLP
64→512→512→10, 2 actors × 1 CPU against torch with 2 threads, medians of 5
with the two timed alternately) measured on an otherwise idle 2-core machine:

    shards of 2 batches (16,384 rows, the default)   plain ~300k rows/s, pool ~275k   ratio 0.90–0.93
    shards of 1 batch (8,192 rows)                   ratio 0.86–0.89
    1 actor × 2 CPUs                                 ratio 0.80–0.83
    Ray Data map_batches                             16k–21k rows/s, 10–12 s a call, ratio 0.21–0.26
                                                     (its actors start and stop on every call)

Actor start (2 actors, model loaded) took 1.4–5 s, paid once per pool. On a
busy machine two single-threaded actors beat one two-threaded torch (ratios
of 1.05–1.9 were seen under load), so only quiet-machine ratios are comparable.

On GPUs (issue 17) the object store starved the device: 2 actors × 0.5 GPU ran
at 0.47–0.61× even the bench's untuned loop on an H200. So a ``device: cuda``
model gets one actor per GPU (unless ``workers.num_actors`` is given), each
running two shards at a time on :class:`workers.device.StreamedModel` lanes
(pinned staging, async copies on CUDA streams overlapped with compute, outputs
into one pinned buffer per shard), with three shards in flight per actor and
shards of at least an eighth of each actor's rows. Given a
:class:`~workers.row_files.RowFile` instead of an array, actors read their own
row ranges from the file and nothing goes through the object store but the
results; rows stored as one run of bytes (an Arrow file's ``features``) are
read with ``preadv`` straight into the lanes' pinned buffers. On the first H200
run the MLP's pool was host-bound at ~9 GB/s (0.70× the tuned loop at fp32,
0.43× at bf16) while it copied from the memory-mapped file with two lanes'
worth of torch threads; ``timings()`` now says where a call's time goes (read,
fill, wait, drain, model calls on the actors; gather on the driver).
``placements()`` names each actor's node, GPU ids, GPU and torch threads;
``busy_seconds()`` is the device time the actors computed.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from suite.errors import VigilError
from suite.spec import ModelSpec, WorkersSpec
from workers.checksum import verify_model
from workers.predictor import Predictor, rows_of
from workers.row_files import RowFile

Batch = np.ndarray | pd.DataFrame
Transform = Callable[[Batch, np.ndarray], Batch]

_IN_FLIGHT_PER_ACTOR = 2
_GPU_CALLS_PER_ACTOR = 2  # shards one GPU actor runs at once (one per StreamedModel lane)
_GPU_SHARDS_PER_ACTOR = 8  # a call's rows are cut into at least this many shards per GPU actor: the last one's result copies are not overlapped


class _PredictorHost:
    """What runs inside an actor: one warm Predictor and an optional transform per shard."""

    def __init__(self, spec: ModelSpec, base_dir: Path, task: str, num_classes: int | None, num_threads: int) -> None:
        self.predictor = Predictor(spec, base_dir, task=task, num_classes=num_classes, num_threads=num_threads)
        self.read_seconds = 0.0

    def placement(self) -> dict[str, Any]:
        """Where this actor runs: node, pid, GPU ids Ray assigned, and the device the model uses."""
        where = {"node_id": ray.get_runtime_context().get_node_id(), "node_ip": ray.util.get_node_ip_address(),
                 "pid": os.getpid(), "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "device": self.predictor.device,
                 "precision": self.predictor.spec.precision}
        if self.predictor.streamed is not None:
            import torch

            where["torch_threads"] = torch.get_num_threads()  # as a call's thread sees it (calls run on Ray's threads)
        if self.predictor.device == "cuda":
            import torch

            where["gpu_name"] = torch.cuda.get_device_name()
        return where

    def predict(self, shard: tuple[Any, ...], transform: Transform | None) -> np.ndarray:
        began = time.perf_counter()
        if isinstance(shard[0], RowFile):  # read by this actor from the file
            rows, start, stop, sample_ids = shard
            # rows stored as one run of bytes go straight into the model's staging buffers, batch by batch
            span = rows.span(start, stop) if transform is None and self.predictor.streamed is not None else None
            features = span if span is not None else rows.read(start, stop)
        else:
            features, sample_ids = shard
        if transform is not None:
            features = transform(features, sample_ids)
        self.read_seconds += time.perf_counter() - began
        return self.predictor(features)

    def busy_seconds(self, reset: bool) -> float:
        streamed = self.predictor.streamed
        return streamed.busy_seconds(reset) if streamed is not None else 0.0

    def timings(self, reset: bool) -> dict[str, float]:
        """Seconds since the last reset: ``read`` (shard rows and transform), the model's host stages, device ``busy``."""
        streamed = self.predictor.streamed
        times = streamed.stage_seconds(reset) if streamed is not None else {}
        times.update(read=self.read_seconds, busy=self.busy_seconds(reset))
        if reset:
            self.read_seconds = 0.0
        return times


_RemoteHost = ray.remote(_PredictorHost)


class InferencePool:
    """A set of warm actors serving one model.

    Args:
        spec: the model.
        base_dir: the suite's folder.
        task: ``"classification"`` or ``"regression"``.
        num_classes: number of classes (classification).
        workers: actor count, CPU/GPU share and retry budget.
        name_prefix: prefix for the actors' names (shown in Ray's state API).
        shard_rows: rows per shard; defaults to two of the model's batches (``2 * spec.batch_size``):
            measured on the bench MLP, shards of one batch lost ~10% to per-call overhead, of
            two ~5%, while larger ones balance worse across actors.
        start_timeout_s: how long to wait for the actors to be placed and load the model.

    Raises:
        ChecksumError: the checkpoint does not match its pin (checked before any actor starts).
        VigilError: an actor could not load the model, or the cluster could not place the actors in time.
    """

    def __init__(
        self,
        spec: ModelSpec,
        base_dir: Path,
        *,
        task: str,
        num_classes: int | None,
        workers: WorkersSpec,
        name_prefix: str,
        shard_rows: int | None = None,
        start_timeout_s: float = 300.0,
    ) -> None:
        verify_model(spec, Path(base_dir))
        self.spec = spec
        self.workers = workers
        self.gpu = spec.device == "cuda"
        self.shard_rows = shard_rows or 2 * spec.batch_size
        self._fixed_shards = shard_rows is not None
        self._args = (spec, Path(base_dir), task, num_classes, max(1, int(workers.cpus_per_actor)))
        self._options: dict[str, Any] = {"num_cpus": workers.cpus_per_actor, "max_restarts": 0}
        num_actors = workers.num_actors
        if self.gpu:
            self._options.update(num_gpus=workers.gpus_per_actor, max_concurrency=_GPU_CALLS_PER_ACTOR)
            gpus = ray.cluster_resources().get("GPU", 0)
            if "num_actors" not in workers.model_fields_set and gpus >= workers.gpus_per_actor:
                num_actors = int(gpus // workers.gpus_per_actor)  # one actor per GPU by default
        self._name = f"{name_prefix}-{spec.name}-{uuid.uuid4().hex[:6]}"
        self._started = 0
        self._last_shards: tuple[tuple[str | None, int, int], list[Any]] | None = None
        self._lock = threading.Lock()
        self._gather_seconds = 0.0
        self.actors: list[Any] = [self._start() for _ in range(num_actors)]
        self._closed = False
        try:
            ray.get([actor.placement.remote() for actor in self.actors], timeout=start_timeout_s)
        except RayActorError as exc:
            self.close()
            cause = _last_line(exc)
            prefix = "suite.errors.VigilError: "
            raise VigilError(cause[len(prefix):] if cause.startswith(prefix) else f"model {spec.name}: an actor failed to load it: {cause}") from None
        except GetTimeoutError:
            self.close()
            raise VigilError(
                f"model {spec.name}: {num_actors} actors asking for {self._options} each were not placed"
                f" within {start_timeout_s:g} s; cluster has {ray.cluster_resources()}"
            ) from None

    def _start(self) -> Any:
        self._started += 1
        return _RemoteHost.options(name=f"{self._name}-{self._started}", **self._options).remote(*self._args)

    def placements(self) -> list[dict[str, Any]]:
        """Each actor's node, pid, assigned GPU ids, GPU name, model device and precision."""
        return ray.get([actor.placement.remote() for actor in self.actors])

    def busy_seconds(self, reset: bool = False) -> list[float]:
        """Per actor, the seconds its GPU computed batches (CUDA events) since the last reset; 0 on CPUs."""
        return ray.get([actor.busy_seconds.remote(reset) for actor in self.actors])

    def timings(self, reset: bool = False) -> dict[str, float]:
        """Where the pool's time went since the last reset, in seconds summed over actors and shards.

        ``read`` (rows and transform, on the actors), ``fill`` (rows into staging buffers), ``wait``
        (for a staging slot), ``drain`` (for a shard's last kernels and copies), ``call`` (the model
        calls), ``busy`` (device compute), ``calls``; and ``gather`` (the driver fetching results and
        copying them into the output).
        """
        total: dict[str, float] = {}
        for times in ray.get([actor.timings.remote(reset) for actor in self.actors]):
            for key, value in times.items():
                total[key] = total.get(key, 0.0) + value
        total["gather"] = self._gather_seconds
        if reset:
            self._gather_seconds = 0.0
        return total

    def predict(
        self, features: Batch | RowFile, sample_ids: np.ndarray, transform: Transform | None = None, *, data_key: str | None = None
    ) -> np.ndarray:
        """Scores for all rows, in input order.

        Args:
            features: rows to score (array or frame, as the model's ``input`` says), or a
                :class:`~workers.row_files.RowFile` whose row ranges the actors read themselves.
            sample_ids: one int64 id per row, handed to ``transform``.
            transform: a picklable ``(batch, sample_ids) -> batch`` run on the actor before predicting.
            data_key: names the content of ``features`` (e.g. its sha256); calls with the same key reuse
                the shards already in the object store, so every variant of one dataset ships it once.

        Raises:
            VigilError: a shard failed on more than ``workers.max_retries`` actors.
        """
        if self.closed:
            raise VigilError(f"model {self.spec.name}: the inference pool is closed")
        if len(features) != len(sample_ids):
            raise VigilError(f"model {self.spec.name}: expected one sample id per row, got {len(sample_ids)} for {len(features)} rows")
        size = self._shard_size(len(features))
        bounds = [(s, min(s + size, len(features))) for s in range(0, max(len(features), 1), size)]
        shards = self._shard_refs(data_key, len(bounds), size)  # object refs, put as first dispatched, kept for retries

        def shard(index: int) -> Any:
            start, stop = bounds[index]
            if isinstance(features, RowFile):  # a few bytes: the actor reads the rows itself
                return (features, start, stop, np.asarray(sample_ids[start:stop]) if transform is not None else None)
            if shards[index] is None:
                shards[index] = ray.put((rows_of(features, start, stop), np.asarray(sample_ids[start:stop])))
            return shards[index]

        out: np.ndarray | None = None  # filled as shards arrive, so the copies overlap the shards still computing
        failures = [0] * len(shards)
        pending = deque(range(len(shards)))
        in_flight: dict[Any, tuple[int, Any]] = {}  # result ref -> (shard index, actor it ran on)
        while pending or in_flight:
            self._dispatch(pending, in_flight, shard, transform)
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                index, actor = in_flight.pop(ref)
                try:
                    began = time.perf_counter()
                    result = ray.get(ref)
                    if out is None:
                        out = np.empty((len(features), *result.shape[1:]), dtype=result.dtype)
                    out[bounds[index][0] : bounds[index][1]] = result
                    self._gather_seconds += time.perf_counter() - began
                except RayActorError as exc:
                    failures[index] += 1
                    if failures[index] > self.workers.max_retries:
                        raise VigilError(
                            f"model {self.spec.name}: shard {index} failed on {failures[index]} actors"
                            f" (workers.max_retries is {self.workers.max_retries}): {_last_line(exc)}"
                        ) from None
                    self._replace(actor)
                    pending.appendleft(index)
        assert out is not None  # every call has at least one shard
        return out

    def _shard_size(self, rows: int) -> int:
        """Rows per shard: ``shard_rows``; on GPUs at least an eighth of each actor's rows, in whole batches."""
        if not self.gpu or self._fixed_shards:
            return self.shard_rows
        share = -(-rows // (_GPU_SHARDS_PER_ACTOR * max(1, len(self.actors))))
        batch = self.spec.batch_size
        return max(self.shard_rows, -(-share // batch) * batch)  # whole batches: every forward pass is full

    def _shard_refs(self, data_key: str | None, count: int, size: int) -> list[Any]:
        """The shard reference slots for this call: the last dataset's when its key matches."""
        key = (data_key, count, size)
        if data_key is not None and self._last_shards is not None and self._last_shards[0] == key:
            return self._last_shards[1]
        refs: list[Any] = [None] * count
        self._last_shards = (key, refs) if data_key is not None else None
        return refs

    def _dispatch(
        self,
        pending: deque[int],
        in_flight: dict[Any, tuple[int, Any]],
        shard: Callable[[int], Any],
        transform: Transform | None,
    ) -> None:
        busy = {id(actor): 0 for actor in self.actors}
        for _, actor in in_flight.values():
            if id(actor) in busy:
                busy[id(actor)] += 1
        limit = _GPU_CALLS_PER_ACTOR + 1 if self.gpu else _IN_FLIGHT_PER_ACTOR
        for actor in self.actors:
            while pending and busy[id(actor)] < limit:
                index = pending.popleft()
                in_flight[actor.predict.remote(shard(index), transform)] = (index, actor)
                busy[id(actor)] += 1

    def _replace(self, dead: Any) -> None:
        with self._lock:
            for slot, actor in enumerate(self.actors):
                if actor is dead:  # only the first failure of a dead actor replaces it
                    ray.kill(dead, no_restart=True)
                    self.actors[slot] = self._start()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop the actors; the pool cannot predict afterwards."""
        self._closed = True
        self._last_shards = None
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []


_POOLS: dict[tuple[Any, ...], InferencePool] = {}


def get_pool(
    spec: ModelSpec,
    base_dir: Path,
    *,
    task: str,
    num_classes: int | None,
    workers: WorkersSpec,
    name_prefix: str = "vigil",
) -> InferencePool:
    """A warm pool for this model, reused across calls (and Prefect tasks) in one process.

    Pools are keyed by the cluster, the model (its pinned sha256 and full spec)
    and the resources asked for.
    """
    key = (ray.get_runtime_context().get_job_id(), spec.sha256, spec.model_dump_json(), str(base_dir), task, num_classes, workers)
    pool = _POOLS.get(key)
    if pool is None or pool.closed:
        pool = _POOLS[key] = InferencePool(
            spec, base_dir, task=task, num_classes=num_classes, workers=workers, name_prefix=name_prefix
        )
    return pool


def close_pools() -> None:
    """Stop every pool :func:`get_pool` started in this process."""
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
