"""Models using what format version 2 added: several outputs, padding modes, a
concatenation of one tensor (DenseNet's first torch.cat([x], 1))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PoolWithIndices(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect", bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, indices = self.pool(self.bn(self.conv(x)))
        return self.head(torch.flatten(values, 1)), indices


class FunctionalIndices(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, _ = F.max_pool2d(x, 2, return_indices=True)
        return torch.cat([values], 1)


class CircularDense(nn.Module):
    """A DenseNet-style layer that starts by concatenating its one input."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2, padding_mode="circular")
        self.norm = nn.GroupNorm(2, 8, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([x], 1)
        return self.norm(torch.cat([features, self.conv(features)], 1))
