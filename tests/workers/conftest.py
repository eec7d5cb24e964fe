"""Tiny models of every format, written to a temporary suite folder; the session's local Ray (tests/conftest.py) runs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from suite.spec import ModelSpec
from workers.checksum import sha256_file

MODULE_FILE = '''
import torch


class TinyNet(torch.nn.Module):
    def __init__(self, inputs: int, classes: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(inputs, classes)

    def forward(self, x):
        return self.linear(x)
'''

CALLABLE_FILE = '''
import numpy as np


def half_and_half(batch):
    first = 1.0 / (1.0 + np.exp(-np.asarray(batch)[:, 0]))
    return np.stack([1.0 - first, first], axis=1)
'''


@pytest.fixture(scope="module")
def local_ray(local_ray: str) -> Iterator[str]:
    """The session's local Ray (2 CPUs, 1 simulated GPU), with no pool left warm by an earlier module holding its CPUs."""
    from workers.warm_pools import close_pools

    close_pools()
    yield local_ray
    close_pools()


@pytest.fixture
def features() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((300, 4)).astype(np.float32)


def linear(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(4, 3).eval()


def pinned(name: str, fmt: str, path: Path, **extra) -> ModelSpec:
    return ModelSpec(name=name, format=fmt, path=path.name, sha256=sha256_file(path), **extra)


@pytest.fixture
def torchscript_spec(tmp_path: Path) -> ModelSpec:
    path = tmp_path / "linear.pt"
    torch.jit.script(linear()).save(str(path))
    return pinned("ts", "torchscript", path, batch_size=64)


@pytest.fixture
def state_dict_spec(tmp_path: Path) -> ModelSpec:
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "tiny.py").write_text(MODULE_FILE)
    weights = {"linear." + k: v for k, v in linear().state_dict().items()}
    path = tmp_path / "tiny.pth"
    torch.save(weights, path)
    return pinned("sd", "torch_state_dict", path, module="nets/tiny.py:TinyNet", init_args={"inputs": 4, "classes": 3})
