"""Model formats: one small module each, all in the ``MODEL_FORMATS`` registry.

Example:
    >>> MODEL_FORMATS.names()
    ['callable', 'skops', 'torch_state_dict', 'torchscript']
"""

from __future__ import annotations

from suite.registry import Registry
from workers.formats import callable_format, skops_format, torch_state_dict, torchscript
from workers.formats.base import LoadedModel, ModelFormat

MODEL_FORMATS: Registry[ModelFormat] = Registry("model format", ModelFormat)
for _module in (torchscript, torch_state_dict, skops_format, callable_format):
    MODEL_FORMATS.register(_module.FORMAT.name, _module.FORMAT)

__all__ = ["MODEL_FORMATS", "LoadedModel", "ModelFormat"]
