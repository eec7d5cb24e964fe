"""The breast-cancer example's torch MLP: standardises its 30 inputs and imputes missing ones.

Production tabular models usually carry their own preprocessing; this one keeps
the training mean and standard deviation as buffers and treats a missing value
as the mean (zero after standardising), so it keeps working under the
``missing_values`` perturbation.
"""

from __future__ import annotations

import torch
from torch import nn


class CancerMLP(nn.Module):
    """30 → hidden → hidden → 2 logits, with built-in standardisation and mean imputation."""

    def __init__(self, features: int = 30, hidden: int = 32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.nan_to_num((x - self.mean) / self.std, nan=0.0, posinf=10.0, neginf=-10.0)
        return self.net(z.clamp(-10.0, 10.0))
