"""What runs inside a pool actor: one warm predictor, each shard's rows read or received, its scores returned or written.

The class is plain (Ray wraps it in :mod:`workers.pool`), so it can be called in-process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ray

from suite.spec import ModelSpec
from workers.device import LANES
from workers.predictor import Predictor
from workers.row_files import RowFile
from workers.shared_output import Written, write_at

Transform = Callable[[Any, np.ndarray], Any]  # (batch, sample ids) -> batch, run on the actor
PUT_MIN_BYTES = 1 << 20
"""Scores this big go into the object store from where the model left them, and the call returns their reference."""

class PredictorHost:
    """What runs inside an actor: one warm Predictor and an optional transform per shard."""

    def __init__(self, spec: ModelSpec, base_dir: Path, task: str, num_classes: int | None, num_threads: int,
                 lanes: int = LANES) -> None:
        self.predictor = Predictor(spec, base_dir, task=task, num_classes=num_classes, num_threads=num_threads, lanes=lanes)
        self.read_seconds = self.write_seconds = 0.0

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

    def predict(self, shard: tuple[Any, ...], transform: Transform | None,
                output: tuple[str, int] | None = None) -> np.ndarray | ray.ObjectRef | Written:
        """Scores for one shard; with ``output`` (a shared output file and the shard's first row), written there instead.

        Without ``output``, scores of :data:`PUT_MIN_BYTES` or more are put into the object store during the
        model's call, straight from its result buffer (a GPU lane's pinned memory), and their reference is
        returned: one copy, on Ray's copy threads. Returned as a value they were copied out of the lane
        first (one thread, fresh pages), then into the object store as the call returned.
        """
        began = time.perf_counter()
        if isinstance(shard[0], RowFile):  # read by this actor from the (memory-mapped) file
            rows, start, stop, sample_ids = shard
            features = rows.read(start, stop)
        else:
            features, sample_ids = shard
        if transform is not None:
            features = transform(features, sample_ids)
        self.read_seconds += time.perf_counter() - began
        return self.predictor(features, self._stored if output is None else lambda scores: self._write(output, scores))

    def _stored(self, scores: np.ndarray) -> np.ndarray | ray.ObjectRef:
        """Big scores put into the object store (their reference returned); small ones returned, copied out of a GPU lane's buffer."""
        if scores.nbytes >= PUT_MIN_BYTES:
            return ray.put(scores)
        return np.array(scores, copy=True) if self.predictor.device == "cuda" else scores  # a lane's buffer is reused

    def _write(self, output: tuple[str, int], scores: np.ndarray) -> Written:
        began = time.perf_counter()
        streamed = self.predictor.streamed
        written = write_at(*output, scores, streamed.copy if streamed is not None else np.copyto)
        self.write_seconds += time.perf_counter() - began
        return written

    def busy_seconds(self, reset: bool) -> float:
        streamed = self.predictor.streamed
        return streamed.busy_seconds(reset) if streamed is not None else 0.0

    def timings(self, reset: bool) -> dict[str, float]:
        """Seconds since the last reset: ``read`` (shard rows and transform), the model's host stages,
        ``write`` (scores into the shared output), device ``busy``."""
        streamed = self.predictor.streamed
        times = streamed.stage_seconds(reset) if streamed is not None else {}
        times.update(read=self.read_seconds, write=self.write_seconds, busy=self.busy_seconds(reset))
        if reset:
            self.read_seconds = self.write_seconds = 0.0
        return times
