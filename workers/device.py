"""Feeding a torch model on its device: pinned buffers and CUDA streams on a GPU, a plain loop on a CPU.

On a GPU, a call (one shard) runs on a *lane*: a copy stream, a compute
stream and two pinned staging buffers. While batch ``i`` computes, batch
``i + 1`` is copied into the other pinned buffer (host memcpy, torch's own
threads) and sent to the device with an async copy on the copy stream; events
order the two streams, so no buffer is overwritten before the copy or the
kernels reading it are done. Outputs (softmax applied on the device) are copied
back, async, into one pinned buffer per shard, which is handed out as numpy.
Two lanes per model let a pool actor take the next shard while the current one
computes (the actor runs two calls at a time).

On a CPU the same class runs the same batches through the model, without
pinned memory, streams or events.

Precision is the model spec's ``precision``: ``fp32`` (TF32 off, on matmuls and
convolutions), ``tf32`` (TF32 on; the same as fp32 on a CPU), ``bf16`` and
``fp16`` (``torch.autocast`` on the model's device; on a CPU, torch's CPU
autocast). The TF32 switches are process-wide, so each call sets them for its
model: a pool actor serves one model.

GPU busy time is measured with CUDA events around each batch's kernels on the
compute stream; :meth:`StreamedModel.busy_seconds` is the union of those
intervals over all lanes, so ``1 - busy / wall`` is the share of a call's wall
time the device computed nothing (copies are not counted as busy).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from typing import Any

import numpy as np

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")
_LANES = 2


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


def host_input(array: Any) -> np.ndarray:
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


class StreamedModel:
    """Run a torch module over a host array in batches on its device, at a precision.

    Args:
        module: the loaded module (on ``device``, in eval mode).
        device: ``"cpu"`` or ``"cuda"`` (``cuda`` means the process's current GPU).
        precision: one of :data:`PRECISIONS`.
        batch_size: rows per forward pass.
        softmax: apply softmax to 2-D outputs with more than one column (logits) on the device.

    Example:
        >>> import torch
        >>> model = StreamedModel(torch.nn.Linear(4, 3).eval(), "cpu", "fp32", batch_size=2, softmax=True)
        >>> model(np.ones((5, 4), dtype=np.float32)).shape
        (5, 3)
    """

    def __init__(self, module: Any, device: str, precision: str, batch_size: int, *, softmax: bool) -> None:
        autocast(precision, device)  # validates the precision
        self.module, self.device, self.precision = module, device, precision
        self.batch_size, self.softmax = batch_size, softmax
        self.cuda = device.startswith("cuda")
        self._lanes: queue.SimpleQueue[_Lane] = queue.SimpleQueue()
        self._intervals: list[tuple[float, float]] = []  # ms since self._origin, one per batch
        self._lock = threading.Lock()
        if self.cuda:
            import torch

            self._origin = torch.cuda.Event(enable_timing=True)
            self._origin.record()
            self._origin.synchronize()
            for _ in range(_LANES):
                self._lanes.put(_Lane(self))

    def __call__(self, array: Any) -> np.ndarray:
        """Outputs for every row of ``array`` as float32 numpy (``(n, k)``, or ``(n,)`` for 1-D outputs)."""
        import torch

        values = host_input(array)
        set_precision(self.precision)
        with torch.inference_mode():
            if not self.cuda:
                return self._on_cpu(values)
            lane = self._lanes.get()
            try:
                return lane.run(values)
            finally:
                self._lanes.put(lane)

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

    def _slots(self, values: np.ndarray) -> tuple[list[Any], list[Any]]:
        import torch

        shape = (self.owner.batch_size, *values.shape[1:])
        key = (values.dtype.str, shape)
        if key not in self.buffers:
            dtype = _tensor(values[:0]).dtype
            self.buffers.clear()  # a new row shape: the old buffers are not reused
            pinned = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(2)]
            on_device = [torch.empty(shape, dtype=dtype, device="cuda") for _ in range(2)]
            self.buffers[key] = (pinned, on_device)
        return self.buffers[key]

    def run(self, values: np.ndarray) -> np.ndarray:
        import torch

        owner, n = self.owner, len(values)
        if n == 0:
            return np.zeros((0,), dtype=np.float32)
        pinned, on_device = self._slots(values)
        source = _tensor(values)
        out = None
        spans = []
        for i, start in enumerate(range(0, n, owner.batch_size)):
            stop, slot = min(start + owner.batch_size, n), i % 2
            rows = stop - start
            self.copied[slot].synchronize()  # the copy that last read this pinned buffer is done
            pinned[slot][:rows].copy_(source[start:stop])  # host memcpy, overlapping the other slot's kernels
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
                    out = torch.empty((n, *y.shape[1:]), dtype=torch.float32, pin_memory=True)
                out[start:stop].copy_(y, non_blocking=True)
                ended.record(self.compute_stream)
                spans.append((began, ended))
        self.compute_stream.synchronize()
        owner._record(spans)
        return out.numpy()
