"""The digits example's networks: a small CNN (candidate) and an MLP (baseline).

Both take a batch of 64 raw pixel intensities (0..16) per row and return logits
for the ten digit classes.
"""

from __future__ import annotations

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """Two 3×3 convolutions over the 8×8 image, then a linear classifier."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * channels * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = (x / 16.0).reshape(-1, 1, 8, 8)
        return self.head(self.features(images).flatten(1))


class DigitsMLP(nn.Module):
    """One hidden layer over the flat pixels."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 16.0)
