"""Feeding a torch model on its device: pinned buffers and CUDA streams on a GPU, a plain loop on a CPU.

On a GPU, a call (one shard) runs on a *lane*: a copy stream, a compute
stream and two pinned staging buffers. While batch ``i`` computes, batch
``i + 1`` is copied into the other pinned buffer (host memcpy, torch's own
threads) and sent to the device with an async copy on the copy stream; events
order the two streams, so no buffer is overwritten before the copy or the
kernels reading it are done. Outputs (softmax applied on the device) are copied
back, async, into a pinned result buffer taken for the call from the model's
few (reused across calls: ``cudaHostAlloc`` is slow). A call gives its lane
back as soon as the device is done and only then hands the buffer to its
``sink`` (by default a copy is returned), so the next shard starts on that lane
while this one's scores are still being put into the object store. Two lanes per
model (``lanes``) let a pool actor run two shards at once; each lane waits only on
its own streams.

Rows reach the pinned buffers by torch's threaded ``copy_``, from an array or a
memory-mapped row file: on the H200 host that moved 47–51 GB/s, where numpy
slices on a thread pool moved 24 GB/s and ``preadv`` 20.9 GB/s
(``bench/host_read.py``).

On a CPU the same class runs the same batches through the model, without
pinned memory, streams or events.

Precision is the model spec's ``precision``: ``fp32`` (TF32 off, on matmuls and
convolutions), ``tf32`` (TF32 on; the same as fp32 on a CPU), ``bf16`` and
``fp16`` (``torch.autocast`` on the model's device; on a CPU, torch's CPU
autocast). The TF32 switches are process-wide, so each call sets them for its
model: a pool actor serves one model.

Each call also adds to host-side timers (:meth:`StreamedModel.stage_seconds`):
``fill`` (rows into pinned buffers), ``wait`` (waiting for a slot's previous
copy), ``drain`` (waiting for the last kernels and result copies), ``lane``
(waiting for a free lane) and ``call`` (the whole call), so a slow pipeline
says where its time goes.

GPU busy time is measured with CUDA events around each batch's kernels on the
compute stream; :meth:`StreamedModel.busy_seconds` is the union of those
intervals over all lanes, so ``1 - busy / wall`` is the share of a call's wall
time the device computed nothing (copies are not counted as busy).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
LANES = 2
"""Shards a model computes at once on a GPU by default (a pool actor's ``gpu_calls``)."""
_MIN_PART_BYTES = 1 << 20  # smaller copies are not worth a thread


def set_precision(precision: str) -> None:
    """Set torch's process-wide TF32 switches for ``precision`` (on only for ``tf32``)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"


def autocast(precision: str, device: str) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bf16/fp16 on ``device``, or nothing for fp32/tf32."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
    if precision in ("fp32", "tf32"):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def host_input(array: Any) -> Any:
    """The array a model is fed: uint8 kept as is (the model normalises it on the device), anything else float32."""
    values = array.to_numpy() if hasattr(array, "to_numpy") else np.asarray(array)
    if values.dtype == np.uint8:
        return np.ascontiguousarray(values)
    return np.ascontiguousarray(values, dtype=np.float32)


def _tensor(array: np.ndarray) -> Any:
    """A zero-copy tensor over ``array``; read-only arrays (Ray's shared memory) are only ever read here."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def parallel_copy(out: np.ndarray, values: np.ndarray, threads: Executor | None, parts: int) -> None:
    """``out[...] = values``, cut by rows into up to ``parts`` slices of at least 1 MiB copied on ``threads``.

    Example:
        >>> out = np.zeros((4, 2), dtype=np.float32)
        >>> parallel_copy(out, np.ones((4, 2), dtype=np.float32), None, 1)
        >>> float(out.sum())
        8.0
    """
    rows = len(values)
    parts = min(parts, rows, max(1, values.nbytes // _MIN_PART_BYTES))
    if threads is None or parts <= 1:
        np.copyto(out, values)
        return
    step = -(-rows // parts)
    for job in [threads.submit(np.copyto, out[a : a + step], values[a : a + step]) for a in range(0, rows, step)]:
        job.result()


class StreamedModel:
    """Run a torch module over a host array in batches on its device, at a precision.

    Args:
        module: the loaded module (on ``device``, in eval mode).
        device: ``"cpu"`` or ``"cuda"`` (``cuda`` means the process's current GPU).
        precision: one of :data:`PRECISIONS`.
        batch_size: rows per forward pass.
        softmax: apply softmax to 2-D outputs with more than one column (logits) on the device.
        lanes: shards computed at once on a GPU (each call beyond them waits for a lane).

    Example:
        >>> import torch
        >>> model = StreamedModel(torch.nn.Linear(4, 3).eval(), "cpu", "fp32", batch_size=2, softmax=True)
        >>> model(np.ones((5, 4), dtype=np.float32)).shape
        (5, 3)
    """

    def __init__(self, module: Any, device: str, precision: str, batch_size: int, *, softmax: bool, lanes: int = LANES) -> None:
        autocast(precision, device)  # validates the precision
        self.module, self.device, self.precision = module, device, precision
        self.batch_size, self.softmax = batch_size, softmax
        self.cuda = device.startswith("cuda")
        self.lanes = max(1, lanes)
        self._lanes: queue.SimpleQueue[_Lane] = queue.SimpleQueue()
        self._results: list[Any] = []  # free pinned result buffers, reused across calls
        self._intervals: list[tuple[float, float]] = []  # ms since self._origin, one per batch
        self._lock = threading.Lock()
        self._stages = dict.fromkeys(("call", "fill", "wait", "drain", "lane", "calls"), 0.0)
        self._copiers: ThreadPoolExecutor | None = None
        import torch

        self.copy_threads = max(1, torch.get_num_threads())  # the actor's CPUs (set before the model loads)
        if self.cuda:
            self._origin = torch.cuda.Event(enable_timing=True)
            self._origin.record()
            self._origin.synchronize()
            for _ in range(self.lanes):
                self._lanes.put(_Lane(self))

    def __call__(self, array: Any, sink: Callable[[np.ndarray], Any] | None = None) -> Any:
        """Outputs for every row of ``array`` as float32 numpy (``(n, k)``, or ``(n,)`` for 1-D outputs).

        With ``sink``, the outputs are handed to it (on a GPU: a view of a pinned result buffer,
        valid only during the call) and its return value is returned.
        """
        import torch

        values = host_input(array)
        set_precision(self.precision)
        began = time.perf_counter()
        with torch.inference_mode():
            if not self.cuda:
                result = self._on_cpu(values)
                result = sink(result) if sink is not None else result
            else:
                waited = time.perf_counter()
                lane = self._lanes.get()
                self._add(lane=time.perf_counter() - waited)
                try:  # the lane goes back as soon as the device is done; its scores are handed out after
                    outputs, buffer = lane.run(values)
                finally:
                    self._lanes.put(lane)
                try:
                    result = sink(outputs) if sink is not None else outputs.copy()
                finally:
                    self._give_result(buffer)
        self._add(call=time.perf_counter() - began, calls=1)
        return result

    def _take_result(self, rows: int, row_shape: tuple[int, ...]) -> Any:
        """A pinned buffer of at least ``rows`` rows of ``row_shape`` (float32): a free one when one fits, else a new one."""
        import torch

        with self._lock:
            fits = [i for i, b in enumerate(self._results) if tuple(b.shape[1:]) == row_shape and len(b) >= rows]
            if fits:  # by place, not list.remove: tensors compare element by element
                return self._results.pop(min(fits, key=lambda i: len(self._results[i])))
        return torch.empty((rows, *row_shape), dtype=torch.float32, pin_memory=True)

    def _give_result(self, buffer: Any) -> None:
        """Put a result buffer back; beyond ``2 × lanes + 1`` (a pool actor runs up to twice its lanes' calls), the smallest go."""
        if buffer is None:
            return
        with self._lock:
            self._results.append(buffer)
            self._results.sort(key=len, reverse=True)
            del self._results[2 * self.lanes + 1 :]

    def fill(self, out: Any, values: np.ndarray, start: int, stop: int) -> None:
        """Rows ``start:stop`` of ``values`` into the tensor ``out`` with torch's own threaded copy.

        Measured on an H200 host (1 GB of rows, 8 threads): torch ``copy_`` from the
        memory map into pinned memory 47–51 GB/s, numpy slices on a thread pool 24 GB/s. The two
        lanes fill at once: letting them take turns, each with all the threads, measured slower on an
        H100 (the MLP at 16M rows 0.81× the tuned loop in fp32 and 0.55× in bf16, against 0.87× and 0.83×).
        """
        began = time.perf_counter()
        out.copy_(_tensor(values[start:stop]))
        self._add(fill=time.perf_counter() - began)

    def copy(self, out: np.ndarray, values: np.ndarray) -> None:
        """``out[...] = values`` on up to ``copy_threads`` threads (shared by the lanes)."""
        parallel_copy(out, values, self._copy_pool() if self.copy_threads > 1 else None, self.copy_threads)

    def _copy_pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._copiers is None:
                self._copiers = ThreadPoolExecutor(self.copy_threads, thread_name_prefix="vigil-copy")
            return self._copiers

    def _add(self, **seconds: float) -> None:
        with self._lock:
            for key, value in seconds.items():
                self._stages[key] += value

    def stage_seconds(self, reset: bool = False) -> dict[str, float]:
        """Host-side seconds since the last reset, summed over calls: ``call``, ``fill``, ``wait``, ``drain``, ``lane``; and ``calls``."""
        with self._lock:
            stages = dict(self._stages)
            if reset:
                self._stages = dict.fromkeys(self._stages, 0.0)
        return stages

    def forward(self, x: Any) -> Any:
        """One batch through the module at the model's precision, as float32 (softmax applied when asked)."""
        import torch

        with autocast(self.precision, self.device):
            y = self.module(x)
        y = y.float()
        if self.softmax and y.ndim == 2 and y.shape[1] > 1:
            y = torch.softmax(y, dim=1)
        return y

    def _on_cpu(self, values: np.ndarray) -> np.ndarray:
        source = _tensor(values)
        parts = [self.forward(source[s : s + self.batch_size]).numpy() for s in range(0, len(values), self.batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)

    def busy_seconds(self, reset: bool = False) -> float:
        """Seconds the device spent computing batches (union over lanes) since the last reset; 0 on a CPU."""
        with self._lock:
            spans = sorted(self._intervals)
            if reset:
                self._intervals = []
        busy, end = 0.0, float("-inf")
        for start, stop in spans:
            if stop > end:
                busy += stop - max(start, end)
                end = stop
        return busy / 1000.0

    def _record(self, spans: list[tuple[Any, Any]]) -> None:
        times = [(self._origin.elapsed_time(a), self._origin.elapsed_time(b)) for a, b in spans]
        with self._lock:
            self._intervals.extend(times)


class _Lane:
    """A copy stream, a compute stream and two pinned staging buffers: one shard at a time."""

    def __init__(self, owner: StreamedModel) -> None:
        import torch

        self.owner = owner
        self.copy_stream, self.compute_stream = torch.cuda.Stream(), torch.cuda.Stream()
        self.copied = [torch.cuda.Event() for _ in range(2)]  # H→D copy of the slot's batch done
        self.consumed = [torch.cuda.Event() for _ in range(2)]  # kernels reading the slot's device buffer done
        self.buffers: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}

    def _slots(self, values: Any) -> tuple[list[Any], list[Any]]:
        import torch

        shape = _staging_shape(values, self.owner.batch_size)
        key = (np.dtype(values.dtype).str, shape)
        if key not in self.buffers:
            dtype = _torch_dtype(values)
            self.buffers.clear()  # a new row shape: the old buffers are not reused
            pinned = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(2)]
            on_device = [torch.empty(shape, dtype=dtype, device="cuda") for _ in range(2)]
            self.buffers[key] = (pinned, on_device)
        return self.buffers[key]

    def run(self, values: Any) -> tuple[np.ndarray, Any]:
        """The outputs of every row (a view of a pinned result buffer) and that buffer, for the owner to take back."""
        import torch

        owner, n = self.owner, len(values)
        if n == 0:
            return np.zeros((0,), dtype=np.float32), None
        pinned, on_device = self._slots(values)
        out = None
        spans = []
        for i, start in enumerate(range(0, n, owner.batch_size)):
            stop, slot = min(start + owner.batch_size, n), i % 2
            rows = stop - start
            waited = time.perf_counter()
            self.copied[slot].synchronize()  # the copy that last read this pinned buffer is done
            owner._add(wait=time.perf_counter() - waited)
            owner.fill(pinned[slot][:rows], values, start, stop)  # host side, overlapping the other slot's kernels
            with torch.cuda.stream(self.copy_stream):
                self.copy_stream.wait_event(self.consumed[slot])
                on_device[slot][:rows].copy_(pinned[slot][:rows], non_blocking=True)
                self.copied[slot].record(self.copy_stream)
            with torch.cuda.stream(self.compute_stream):
                self.compute_stream.wait_event(self.copied[slot])
                began, ended = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                began.record(self.compute_stream)
                y = owner.forward(on_device[slot][:rows])
                self.consumed[slot].record(self.compute_stream)
                if out is None:
                    buffer = owner._take_result(n, tuple(y.shape[1:]))
                    out = buffer[:n]
                out[start:stop].copy_(y, non_blocking=True)
                ended.record(self.compute_stream)
                spans.append((began, ended))
        drained = time.perf_counter()
        self.compute_stream.synchronize()
        owner._add(drain=time.perf_counter() - drained)
        owner._record(spans)
        return out.numpy(), buffer


def _staging_shape(values: np.ndarray, batch_size: int) -> tuple[int, ...]:
    return (batch_size, *values.shape[1:])


def _torch_dtype(values: Any) -> Any:
    """The torch dtype of an array's values."""
    return _tensor(np.empty(0, dtype=values.dtype)).dtype
