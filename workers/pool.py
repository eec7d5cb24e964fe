"""Sharded batch inference on warm Ray actors.

Each actor wraps a plain :class:`~workers.predictor.Predictor`, so a model is
verified and loaded once per actor and stays warm across ``predict`` calls;
:func:`workers.warm_pools.get_pool` keeps pools alive across Prefect tasks in one process. The
driver puts every shard into the object store once (``ray.put``) and hands
actors references; the optional ``transform`` (e.g. a perturbation bound to its
seed) runs on the actor, so perturbed rows are made on the workers. Shards are
dealt out dynamically, two in flight per actor so none waits for its next
batch. A shard whose actor dies, or finishes nothing for ``workers.shard_timeout_s``
(stuck: it is stopped), is retried on a replacement, up to ``workers.max_retries``
times; results are keyed by shard index, so nothing is lost or counted twice.

Why a hand-written pool and not Ray Data's ``map_batches`` with a callable
class: Ray Data starts its actor pool for every dataset execution and tears it
down after, so models cannot stay warm across calls (measured 0.21–0.26× plain
torch against the pool's 0.90–0.93; the figures are in docs/architecture.md).

On GPUs (issue 17) a ``device: cuda`` model gets one actor per GPU (unless
``workers.num_actors`` is given), running two shards at a time on
:class:`workers.device.StreamedModel` lanes (``gpu_calls``), each call cut into
sixteen even shards per actor of at least four batches (``gpu_shards``, :func:`workers.shards.shard_bounds`).
Given a :class:`~workers.row_files.RowFile`, actors read their own row ranges;
scores of 1 MiB or more come back by reference from a pinned result buffer
(:data:`workers.actor_host.PUT_MIN_BYTES`), put into the object store after the
shard's lane has gone to the next shard, and driver threads take each shard's as
it arrives (:class:`workers.shards.Takers`, ``gather_threads``) while the loop
deals out the next. docs/architecture.md has the design and the figures.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray
from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError

from suite.errors import PlacementTimeout, ShardTimeout, VigilError
from suite.spec import ModelSpec, WorkersSpec
from workers.checksum import verify_model
from workers.actor_host import PredictorHost
from workers.placement import asked, await_placement, free_of_total
from workers.predictor import rows_of
from workers.row_files import RowFile
from workers.shards import Gathered, Takers, Watchdog, assemble, shard_bounds
from workers.shared_output import SharedOutput, Written

Batch = np.ndarray | pd.DataFrame
Transform = Callable[[Batch, np.ndarray], Batch]

_IN_FLIGHT_PER_ACTOR = 2
_GPU_CALLS_PER_ACTOR = 2  # shards one GPU actor runs at once (one per StreamedModel lane)
_SHARED_MIN_ROWS = 65_536  # by default, CPU calls this big write into a shared file: smaller ones (a shadow replay's batches) gain no memory worth a file each
_GPU_SHARDS_PER_ACTOR = 16  # a call's rows are cut into this many even shards per GPU actor (docs/architecture.md: the H100 sweeps)
_GPU_MIN_BATCHES = 4  # but a GPU shard keeps 4 batches: with 2, half its batches are a lane's first or last (not overlapped)
_RemoteHost = ray.remote(PredictorHost)


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
        start_timeout_s: how long to wait for the actors to be placed and load the model
            (default ``workers.start_timeout_s``).
        shared_output: whether actors on the driver's node write scores into a file the driver maps
            (:mod:`workers.shared_output`) instead of returning them through the object store. By
            default on for CPU models' calls of 65,536 rows or more (for the driver's memory), off for
            ``device: cuda`` ones (slower there); docs/architecture.md has the figures.
        on_wait: told, every few seconds while actors wait to be placed, what they wait for and what is free.
        gpu_calls: ``device: cuda`` only: shards one actor computes at once, 1 or 2 (default 2, one per
            :class:`~workers.device.StreamedModel` lane); as many more may put scores meanwhile.
        gpu_shards: ``device: cuda`` only: each shard is ``1 / gpu_shards`` of each actor's rows, in whole
            batches (default 16), and at least 4 batches each; with ``gpu_guided`` set, of the rows still left; ``gpu_taper``
            cuts the last round finer (:func:`workers.shards.shard_bounds`). All may change between calls (``bench/gpu_sweep.py``).
        gather_threads: driver threads copying scores that come through the object store into the
            output (default: up to 8, the driver's CPUs). Shards are taken off the driver's loop by
            a few threads, so it deals out the next shards meanwhile; ``0`` takes each on the loop
            with one thread. May be changed between calls (attribute ``gather_threads``).

    Raises:
        ChecksumError: the checkpoint does not match its pin (checked before any actor starts).
        VigilError: an actor could not load the model.
        PlacementTimeout: the cluster could not place the actors in time.
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
        start_timeout_s: float | None = None,
        shared_output: bool | None = None,
        on_wait: Callable[[str], None] | None = None,
        gpu_calls: int = _GPU_CALLS_PER_ACTOR,
        gpu_shards: int = _GPU_SHARDS_PER_ACTOR,
        gather_threads: int | None = None,
    ) -> None:
        if gpu_calls not in (1, 2):
            raise ValueError(f"gpu_calls: expected 1 or 2, got {gpu_calls}")
        verify_model(spec, Path(base_dir))
        self.spec = spec
        self.workers = workers
        self.gpu = spec.device == "cuda"
        self._gpu_calls = gpu_calls
        self.gpu_shards, self.gpu_guided, self.gpu_taper = gpu_shards, False, 1  # how calls are cut on GPUs; may change between calls
        self.shard_rows = shard_rows or 2 * spec.batch_size
        self._fixed_shards = shard_rows is not None
        self._args = (spec, Path(base_dir), task, num_classes, max(1, int(workers.cpus_per_actor)), gpu_calls)
        self._options: dict[str, Any] = {"num_cpus": workers.cpus_per_actor, "max_restarts": 0}
        num_actors = workers.num_actors
        if self.gpu:
            # a call gives its lane back before its scores are put into the object store: twice the lanes run at once
            self._options.update(num_gpus=workers.gpus_per_actor, max_concurrency=2 * gpu_calls)
            gpus = ray.cluster_resources().get("GPU", 0)
            if "num_actors" not in workers.model_fields_set and gpus >= workers.gpus_per_actor:
                num_actors = int(gpus // workers.gpus_per_actor)  # one actor per GPU by default
        self._name = f"{name_prefix}-{spec.name}-{uuid.uuid4().hex[:6]}"
        self._started = 0
        self._last_shards: tuple[tuple[str | None, int, int], list[Any]] | None = None
        self._lock = threading.Lock()
        self._gather_seconds, self._gather_lock = 0.0, threading.Lock()
        self.gather_threads = min(8, os.cpu_count() or 1) if gather_threads is None else gather_threads
        self._takers: Takers | None = None
        start_timeout_s = workers.start_timeout_s if start_timeout_s is None else start_timeout_s
        self._start_timeout_s = start_timeout_s
        self._shared = not self.gpu if shared_output is None else shared_output  # see the docstring: memory on CPUs, time on GPUs
        self._shared_min_rows = _SHARED_MIN_ROWS if shared_output is None else 1  # by default only calls where memory matters
        self._driver_ip = ray.util.get_node_ip_address()
        self._local: dict[int, bool] = {}  # id(actor) -> on the driver's node
        self.actors: list[Any] = [self._start() for _ in range(num_actors)]
        self._closed = False
        try:
            where = await_placement(self.actors, asked(self._options), start_timeout_s, on_wait)
            self._local = {id(actor): w["node_ip"] == self._driver_ip for actor, w in zip(self.actors, where)}
        except RayActorError as exc:
            self.close()
            cause = _last_line(exc)
            prefix = "suite.errors.VigilError: "
            raise VigilError(cause[len(prefix):] if cause.startswith(prefix) else f"model {spec.name}: an actor failed to load it: {cause}") from None
        except GetTimeoutError:
            free = free_of_total()  # as the actors found it, before this pool's own are stopped
            self.close()
            raise PlacementTimeout(
                f"model {spec.name}: {num_actors} actor{'s' if num_actors != 1 else ''} asking for {asked(self._options)} each not placed"
                f" within {start_timeout_s:g} s (workers.start_timeout_s); {free}"
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
        """Seconds since the last reset, summed over actors and shards: the actors' ``read`` (rows and transform),
        ``write`` (into the shared output), ``busy`` (device compute) and their model's stages
        (:meth:`~workers.device.StreamedModel.stage_seconds`); the driver's ``gather`` (results into the output)."""
        total: dict[str, float] = {}
        for times in ray.get([actor.timings.remote(reset) for actor in self.actors]):
            for key, value in times.items():
                total[key] = total.get(key, 0.0) + value
        with self._gather_lock:
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
            VigilError: a shard failed (its actor died, or was stuck past ``workers.shard_timeout_s``)
                on more than ``workers.max_retries`` actors.
        """
        if self.closed:
            raise VigilError(f"model {self.spec.name}: the inference pool is closed")
        if len(features) != len(sample_ids):
            raise VigilError(f"model {self.spec.name}: expected one sample id per row, got {len(sample_ids)} for {len(features)} rows")
        bounds = self._bounds(len(features))
        shards = self._shard_refs(data_key, bounds)  # object refs, put as first dispatched, kept for retries

        def shard(index: int) -> Any:
            start, stop = bounds[index]
            if isinstance(features, RowFile):  # a few bytes: the actor reads the rows itself
                return (features, start, stop, np.asarray(sample_ids[start:stop]) if transform is not None else None)
            if shards[index] is None:
                shards[index] = ray.put((rows_of(features, start, stop), np.asarray(sample_ids[start:stop])))
            return shards[index]

        shares = self._shared and len(features) >= self._shared_min_rows  # actors on this node write into a shared file
        shared = SharedOutput.create(len(features), 4 * (self._args[3] or 16)) if shares else None
        try:
            return self._run(len(features), bounds, shard, transform, shared)
        finally:
            if shared is not None:
                shared.discard()

    def _run(self, rows: int, bounds: list[tuple[int, int]], shard: Callable[[int], Any], transform: Transform | None,
             shared: SharedOutput | None) -> np.ndarray:
        """Deal the shards out, retrying failed ones; actors on this node write into ``shared`` when given.

        Without it, each shard's scores are copied into the output as they arrive (by taker threads,
        while this loop deals on) and their object-store copy is released once copied.
        """
        written: dict[int, Written] = {}  # shard index -> note, for shards written into the shared output
        held: dict[int, np.ndarray] = {}  # shard index -> scores fetched while a shared output is still to come
        takers = self._takers_now() if shared is None else None
        gathered = takers.output(rows, f"model {self.spec.name}") if takers else Gathered(rows, f"model {self.spec.name}")
        failures = [0] * len(bounds)
        pending = deque(range(len(bounds)))
        in_flight: dict[Any, tuple[int, Any]] = {}  # result ref -> (shard index, actor it ran on)
        taking: dict[Future[None], tuple[int, Any]] = {}  # scores being taken out of the object store -> (shard, actor)
        watch = Watchdog(self.workers.shard_timeout_s)
        while pending or in_flight or taking:
            self._dispatch(pending, in_flight, shard, transform, shared, bounds, watch)
            if in_flight:
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=watch.wait_s({id(a) for _, a in in_flight.values()}))
                if not done and self._kill_stuck(watch, in_flight, failures, pending):
                    continue
            else:  # every shard ran: wait for the scores still being taken
                done, _ = [], wait(taking, return_when=FIRST_COMPLETED)
            for ref in done:
                index, actor = in_flight.pop(ref)
                watch.finished(id(actor))
                try:
                    began = time.perf_counter()
                    result = ray.get(ref)
                    if isinstance(result, ray.ObjectRef) and takers is not None:  # big scores: taken off this loop
                        taking[takers.take(result, gathered, bounds[index])] = (index, actor)
                        continue
                    if isinstance(result, ray.ObjectRef):  # big scores the actor put into the object store
                        result = ray.get(result)
                    if isinstance(result, Written):
                        written[index] = result
                    elif shared is not None:
                        held[index] = result
                    else:
                        gathered.put(bounds[index], result)
                    del result  # a shard copied in: its object-store copy goes with this last reference
                    self._add_gather(time.perf_counter() - began)
                except (RayActorError, ObjectLostError) as exc:  # lost: the actor that put the scores died before they were read
                    self._retry(index, actor, exc, failures, pending)
            for job in [job for job in taking if job.done()]:
                index, actor = taking.pop(job)
                try:
                    job.result()
                except (RayActorError, ObjectLostError) as exc:
                    self._retry(index, actor, exc, failures, pending)
        began = time.perf_counter()
        out = assemble(gathered, held, written, bounds, shared)
        self._add_gather(time.perf_counter() - began)
        return out

    def _kill_stuck(self, watch: Watchdog, in_flight: dict[Any, tuple[int, Any]], failures: list[int], pending: deque[int]) -> bool:
        """Replace each actor that holds shards and finished none within ``workers.shard_timeout_s``; its shards go again."""
        stuck = set(watch.stuck({id(actor) for _, actor in in_flight.values()}))
        exc = ShardTimeout(f"no shard finished within {watch.timeout_s:g} s (workers.shard_timeout_s): the actor was stopped as stuck")
        for actor in {id(a): a for _, a in in_flight.values() if id(a) in stuck}.values():
            self._replace(actor)  # first, so it is stopped even when a shard of it has no retry left
        for ref, (index, actor) in [(r, v) for r, v in in_flight.items() if id(v[1]) in stuck]:
            del in_flight[ref]
            self._retry(index, actor, exc, failures, pending)  # (its actor is already replaced)
        return bool(stuck)

    def _retry(self, index: int, actor: Any, exc: Exception, failures: list[int], pending: deque[int]) -> None:
        """Shard ``index`` failed on ``actor``: replace the actor and deal the shard again, within ``workers.max_retries``."""
        failures[index] += 1
        if failures[index] > self.workers.max_retries:  # stuck on the last try too: the waits are not to be repeated
            raise (ShardTimeout if isinstance(exc, ShardTimeout) else VigilError)(
                f"model {self.spec.name}: shard {index} failed on {failures[index]} actors"
                f" (workers.max_retries is {self.workers.max_retries}): {_last_line(exc)}"
            ) from None
        self._replace(actor)
        pending.appendleft(index)

    def _takers_now(self) -> Takers | None:
        """The driver's taker threads at ``gather_threads`` (remade when it changed), or none at 0."""
        if self._takers is not None and self._takers.threads != self.gather_threads:
            self._takers.close()
            self._takers = None
        if self._takers is None and self.gather_threads > 0:
            self._takers = Takers(ray.get, self.gather_threads, self._add_gather)
        return self._takers

    def _add_gather(self, seconds: float) -> None:
        with self._gather_lock:
            self._gather_seconds += seconds

    def _bounds(self, rows: int) -> list[tuple[int, int]]:
        """This call's shards (:func:`workers.shards.shard_bounds`): ``shard_rows`` each on CPUs, ``gpu_shards`` per actor on GPUs."""
        if not self.gpu or self._fixed_shards:
            return shard_bounds(rows, shard_rows=self.shard_rows)
        return shard_bounds(rows, shard_rows=_GPU_MIN_BATCHES * self.spec.batch_size, parts=self.gpu_shards * max(1, len(self.actors)),
                            batch=self.spec.batch_size, guided=self.gpu_guided, taper=self.gpu_taper, lanes=self._gpu_calls * max(1, len(self.actors)))

    def _shard_refs(self, data_key: str | None, bounds: list[tuple[int, int]]) -> list[Any]:
        """The shard reference slots for this call: the last dataset's when its key and cuts match."""
        key = (data_key, tuple(bounds))
        if data_key is not None and self._last_shards is not None and self._last_shards[0] == key:
            return self._last_shards[1]
        refs: list[Any] = [None] * len(bounds)
        self._last_shards = (key, refs) if data_key is not None else None
        return refs

    def _dispatch(
        self,
        pending: deque[int],
        in_flight: dict[Any, tuple[int, Any]],
        shard: Callable[[int], Any],
        transform: Transform | None,
        shared: SharedOutput | None,
        bounds: list[tuple[int, int]],
        watch: Watchdog,
    ) -> None:
        busy = {id(actor): 0 for actor in self.actors}
        for _, actor in in_flight.values():
            if id(actor) in busy:
                busy[id(actor)] += 1
        limit = 2 * self._gpu_calls + 1 if self.gpu else _IN_FLIGHT_PER_ACTOR
        for actor in self.actors:
            while pending and busy[id(actor)] < limit:
                if not busy[id(actor)]:
                    watch.started(id(actor))
                index = pending.popleft()
                output = (shared.path, bounds[index][0]) if shared is not None and self._local.get(id(actor)) else None
                in_flight[actor.predict.remote(shard(index), transform, output)] = (index, actor)
                busy[id(actor)] += 1

    def _replace(self, dead: Any) -> None:
        with self._lock:
            for slot, actor in enumerate(self.actors):
                if actor is dead:  # only the first failure of a dead actor replaces it
                    ray.kill(dead, no_restart=True)
                    self.actors[slot] = new = self._start()
                    try:  # where it runs decides how it returns scores; unknown (not started in time) is remote
                        where = ray.get(new.placement.remote(), timeout=self._start_timeout_s)
                        self._local[id(new)] = where["node_ip"] == self._driver_ip
                    except (RayActorError, GetTimeoutError):
                        self._local[id(new)] = False

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
        if self._takers is not None:
            self._takers.close()
            self._takers = None


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
