"""The predictor: a plain class that loads a model once and predicts batches.

It is not a Ray actor; :mod:`workers.pool` wraps it. Tests and the CLI can call it
directly.

Example:
    >>> predictor = Predictor(spec, suite_dir, task="classification", num_classes=10)  # doctest: +SKIP
    >>> predictor(features).shape  # doctest: +SKIP
    (1797, 10)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from suite.errors import VigilError
from suite.spec import ModelSpec
from workers.checksum import verify_model
from workers.device import LANES, StreamedModel
from workers.formats import MODEL_FORMATS

PREDICTOR_VERSION = "2"
"""The version of Vigil's prediction path (loading, batching, output conversion).

It is part of every model's prediction fingerprint (:mod:`pipeline.evaluate.fingerprint`):
bump it whenever a change here or in :mod:`workers.formats` can change a
prediction, so cached predictions made by the old path are not reused.
Version 2: torch models run through :class:`workers.device.StreamedModel` (softmax on the device).
"""


class Predictor:
    """Verify and load one model, then map batches to scores.

    Args:
        spec: the model's spec.
        base_dir: the suite's folder (relative checkpoint and module paths resolve here).
        task: ``"classification"`` or ``"regression"``.
        num_classes: number of classes (needed for ``output: labels``).
        num_threads: torch intra-op threads; ``None`` leaves torch's default.
        lanes: torch models on a GPU: shards computed at once (:class:`~workers.device.StreamedModel`).

    Raises:
        ChecksumError: the checkpoint is missing or does not match its pin.
        VigilError: the format is unknown or the model cannot be built.
    """

    def __init__(
        self,
        spec: ModelSpec,
        base_dir: Path,
        *,
        task: str,
        num_classes: int | None,
        num_threads: int | None = None,
        lanes: int = LANES,
    ) -> None:
        self.spec = spec
        self.task = task
        self.num_classes = num_classes
        model_format = MODEL_FORMATS.get(spec.format)
        checkpoint = verify_model(spec, Path(base_dir))
        if num_threads is not None and spec.format in ("torchscript", "torch_state_dict"):
            import torch

            torch.set_num_threads(max(1, num_threads))
        self.model = model_format.load(spec, checkpoint, Path(base_dir), task)
        self.output = self.model.auto_output if spec.output == "auto" else spec.output
        if task == "classification" and self.output == "values":
            raise VigilError(f"model {spec.name}: output: expected logits, probabilities or labels for classification, got values")
        if self.output == "labels" and task == "classification" and not num_classes:
            raise VigilError(f"model {spec.name}: output labels needs the suite's classes, got none")
        self.streamed: StreamedModel | None = None
        if self.model.module is not None:  # torch: batches fed on the device, softmax there too
            softmax = task == "classification" and self.output == "logits"
            self.streamed = StreamedModel(self.model.module, self.model.device, spec.precision, spec.batch_size, softmax=softmax,
                                          lanes=lanes)

    @property
    def device(self) -> str:
        """Where the model computes: ``cpu`` or ``cuda``."""
        return self.model.device

    def __call__(self, batch: np.ndarray | pd.DataFrame, sink: Callable[[np.ndarray], Any] | None = None) -> Any:
        """Scores for a batch: ``(n, k)`` float32 probabilities, or ``(n,)`` values for regression.

        A frame is handed to the model as an array unless the spec says ``input: frame``. With
        ``sink``, the scores are handed to it (possibly a view of a reused buffer, valid only
        during the call) and its return value is returned.
        """
        if self.spec.input == "array" and isinstance(batch, pd.DataFrame):
            batch = batch.to_numpy()
        if self.streamed is not None and len(batch):
            streamed = self.streamed

            def converted(raw: np.ndarray) -> Any:
                scores = self._convert(raw, probabilities=streamed.softmax and raw.ndim == 2 and raw.shape[1] > 1)
                if sink is not None:
                    return sink(scores)
                return scores.copy() if streamed.cuda else scores  # on a GPU, a view of the lane's reused buffer

            return streamed(batch, converted)
        scores = self._scores(batch)
        return sink(scores) if sink is not None else scores

    def _scores(self, batch: np.ndarray | pd.DataFrame) -> np.ndarray:
        size = self.spec.batch_size
        with self._mode():
            parts = [self._convert(self.model.predict(rows_of(batch, i, i + size))) for i in range(0, len(batch), size)]
        if not parts:
            k = self.num_classes or 0
            return np.zeros((0, k) if self.task == "classification" else (0,), dtype=np.float32)
        return np.concatenate(parts)

    def _mode(self) -> contextlib.AbstractContextManager[Any]:
        if not self.model.uses_torch:
            return contextlib.nullcontext()
        import torch

        return torch.inference_mode()

    def _convert(self, raw: np.ndarray, probabilities: bool = False) -> np.ndarray:
        raw = np.asarray(raw)
        if self.task == "regression":
            return raw.reshape(len(raw), -1)[:, 0].astype(np.float32) if raw.ndim > 1 else raw.astype(np.float32)
        if self.output == "labels":
            labels = raw.reshape(-1).astype(np.int64)
            assert self.num_classes is not None
            onehot = np.zeros((len(labels), self.num_classes), dtype=np.float32)
            onehot[np.arange(len(labels)), labels] = 1.0
            return onehot
        scores = raw.astype(np.float32, copy=False).reshape(len(raw), -1)
        if probabilities:  # softmax was applied on the device
            return scores
        if scores.shape[1] == 1:  # one positive-class column: expand to the (n, 2) convention
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0])) if self.output == "logits" else scores[:, 0]
            return np.stack([1.0 - positive, positive], axis=1).astype(np.float32)
        if self.output == "logits":
            scores = scores - scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
        return scores


def rows_of(batch: np.ndarray | pd.DataFrame, start: int, stop: int) -> np.ndarray | pd.DataFrame:
    """Rows ``start:stop`` of an array or a frame (by position)."""
    return batch.iloc[start:stop] if isinstance(batch, pd.DataFrame) else batch[start:stop]
