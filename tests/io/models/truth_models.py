"""Models whose import must tell the truth: subclasses that call F.conv2d on their own
weight, forward arguments with defaults, training-only branches, modules never called,
code torch.fx cannot follow, and a library helper the catalog cannot express."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.io.models.activ_lib import shifted


class StaticSamePaddingConv(nn.Conv2d):
    """efficientnet-pytorch's Conv2dStaticSamePadding: a fixed pad, then the conv."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__(cin, cout, kernel, stride=stride, bias=False)
        total = max(kernel - stride, 0)
        self.static_padding = nn.ZeroPad2d((total // 2, total - total // 2) * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.static_padding(x)
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class MeanShift(nn.Conv2d):
    """torchsr's MeanShift: a fixed 1×1 conv that subtracts the data set's mean."""

    def __init__(self) -> None:
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(-torch.tensor([0.4, 0.45, 0.5]))


class SubclassedConvs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shift = MeanShift()
        self.stem = StaticSamePaddingConv(3, 8, 3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(self.shift(x))


class WithScale(nn.Module):
    """Every torchsr model: forward(x, scale=None) with an `if` on the scale."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        if scale is not None and scale != 2:
            raise ValueError("this model up-samples by 2")
        return self.shuffle(self.conv(x))


class DropConnect(nn.Module):
    """EfficientNet's drop-connect: random masks while training, nothing at inference."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.training:
            mask = torch.rand(x.shape[0], 1, 1, 1) < 0.8
            y = y * mask / 0.8
        return x + y


class WithUnusedUpsamplers(nn.Module):
    """CARN: up-samplers for ×3 and ×4 built, only ×2 used."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 12, 3, padding=1)
        self.up2 = nn.PixelShuffle(2)
        self.up3 = nn.Conv2d(3, 27, 3, padding=1)
        self.up4 = nn.Sequential(nn.Conv2d(3, 48, 3, padding=1), nn.Conv2d(48, 48, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up2(self.body(x))


class IsinstanceSkip(nn.Module):
    """MONAI's BasicUNet: `torch.jit.isinstance` is False on fx's proxies, so the trace
    drops the skip concatenation that a real forward makes."""

    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(2, 4, 3, padding=1)
        self.up = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)
        y = self.up(skip)
        if torch.jit.isinstance(skip, torch.Tensor):
            y = torch.cat([y, skip], dim=1)
        return y


class LibraryShift(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shifted(self.conv(x))


class Recursive(nn.Module):
    """CARN-M: one block called three times, its weights shared."""

    def __init__(self) -> None:
        super().__init__()
        self.entry = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Conv2d(8, 8, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.entry(x))
        for _ in range(3):
            x = self.act(self.block(x))
        return x
