"""TorchScript checkpoints, loaded with ``torch.jit.load``; ``output: auto`` means logits."""

from __future__ import annotations

from pathlib import Path

from suite.errors import VigilError
from suite.spec import ModelSpec
from workers.formats.base import LoadedModel, ModelFormat, first_line, torch_device, torch_predict


def load(spec: ModelSpec, checkpoint: Path | None, base_dir: Path, task: str) -> LoadedModel:
    """Load a scripted or traced module onto the spec's device (CPU when CUDA is absent)."""
    import torch

    assert checkpoint is not None
    device = torch_device(spec.device)
    try:
        module = torch.jit.load(str(checkpoint), map_location=device).eval()
    except (RuntimeError, ValueError) as exc:
        raise VigilError(f"model {spec.name}: checkpoint {checkpoint}: torch.jit.load cannot load it: {first_line(exc)}") from None
    return LoadedModel(torch_predict(module, device), auto_output="logits", device=device, uses_torch=True, module=module)


FORMAT = ModelFormat("torchscript", load)
