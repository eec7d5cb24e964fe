"""A ``state_dict`` plus the ``nn.Module`` class named by ``spec.module``; ``output: auto`` means logits.

The weights are read with ``torch.load(weights_only=True)``, so a checkpoint
cannot run code; the class is built with ``spec.init_args``.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

from suite.errors import VigilError
from suite.spec import ModelSpec
from workers.formats.base import LoadedModel, ModelFormat, first_line, torch_device, torch_predict
from workers.formats.imports import import_object


def load(spec: ModelSpec, checkpoint: Path | None, base_dir: Path, task: str) -> LoadedModel:
    """Build the module class, load the weights strictly, and move it to the device."""
    import torch

    assert checkpoint is not None
    if not spec.module:
        raise VigilError(f"model {spec.name}: module: expected 'file.py:ClassName' for format torch_state_dict, got nothing")
    cls = import_object(spec.module, base_dir, model=spec.name)
    device = torch_device(spec.device)
    module = cls(**spec.init_args)
    try:
        state = torch.load(str(checkpoint), map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        reason = f"it holds a pickled {found.group(1)}, not only tensors (save the state_dict)" if found else first_line(exc)
        raise VigilError(f"model {spec.name}: checkpoint {checkpoint}: torch.load(weights_only=True) refused it: {reason}") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).replace("Error(s) in loading state_dict for", "").split())
        detail = detail if len(detail) <= 240 else detail[:239] + "…"
        raise VigilError(f"model {spec.name}: checkpoint {checkpoint} does not fit {spec.module}: {detail}") from None
    module = module.to(device).eval()
    return LoadedModel(torch_predict(module, device), auto_output="logits", device=device, uses_torch=True, module=module)


FORMAT = ModelFormat("torch_state_dict", load)
