"""A model library's helper, as pytorchcv's models/common/activ.py: the line an import
message must name when what it does cannot be expressed."""

from __future__ import annotations

import torch


def shifted(x: torch.Tensor) -> torch.Tensor:
    return torch.roll(x, 1, 2)
