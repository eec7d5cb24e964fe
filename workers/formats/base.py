"""What a model format hands back: a loaded model that maps a batch to raw outputs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from suite.spec import ModelSpec

RawOutput = Literal["logits", "probabilities", "labels", "values"]


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to predict.

    Attributes:
        predict: maps one batch (array or frame) to raw outputs as a numpy array.
        auto_output: what ``predict`` returns when the spec says ``output: auto``.
        device: where it computes: ``"cpu"`` or ``"cuda"``.
        uses_torch: whether batches should run under ``torch.inference_mode``.
        module: the torch module itself, for torch formats: :class:`workers.device.StreamedModel`
            feeds it on its device (pinned buffers and CUDA streams on a GPU).
    """

    predict: Callable[[Any], np.ndarray]
    auto_output: RawOutput
    device: str = "cpu"
    uses_torch: bool = False
    module: Any = None


@dataclass(frozen=True)
class ModelFormat:
    """A registered way to load a model file.

    ``load(spec, checkpoint, base_dir, task)`` gets the verified checkpoint path
    (``None`` for a format without a file) and the suite folder for resolving
    ``spec.module``.
    """

    name: str
    load: Callable[[ModelSpec, Path | None, Path, str], LoadedModel]


def first_line(exc: BaseException, limit: int = 240) -> str:
    """An exception's message squeezed to one line of at most ``limit`` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def torch_device(requested: str) -> str:
    """``cuda`` when asked for (``cuda`` or ``auto``) and available, else ``cpu``."""
    import torch

    return "cuda" if requested in ("cuda", "auto") and torch.cuda.is_available() else "cpu"


def torch_predict(module: Any, device: str) -> Callable[[Any], np.ndarray]:
    """A batch function for a torch module: numpy/frame in, float numpy out."""
    import torch

    def predict(batch: Any) -> np.ndarray:
        values = batch.to_numpy(dtype=np.float32) if hasattr(batch, "to_numpy") else batch
        x = torch.as_tensor(np.ascontiguousarray(values, dtype=np.float32), device=device)
        return module(x).detach().float().cpu().numpy()

    return predict
