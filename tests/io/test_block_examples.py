"""The block library examples (blocks-*.nnd, unet-blocks.nnd) against torch twins written
here by hand, as plain nn.Modules mirror each block: torch's parameter count and its
FlopCounterMode MACs (FLOPs / 2) equal the designer's totals exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.propagate import analyse
from designer.io.project import load
from tests.conftest import EXAMPLES


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]


class BasicBlock(nn.Module):
    """ResNet's basic block; the 1×1 downsample where the stride or the width changes."""

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn_relu(cin, width, stride),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
        )
        self.down: nn.Module = nn.Identity()
        if stride != 1 or cin != width:
            self.down = nn.Sequential(
                nn.Conv2d(cin, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.down(x))


def resnet_basic() -> nn.Module:
    return nn.Sequential(
        *conv_bn_relu(3, 16),
        BasicBlock(16, 16),
        BasicBlock(16, 32, 2),
        BasicBlock(32, 32),
        BasicBlock(32, 64, 2),
        BasicBlock(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


class Inception(nn.Module):
    """GoogLeNet's module: 1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3 max pool then 1×1."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int) -> None:
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU())
        self.b2 = nn.Sequential(
            nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU()
        )
        self.b3 = nn.Sequential(
            nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU()
        )
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, pp, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def inception() -> nn.Module:
    return nn.Sequential(
        Inception(192, 64, 96, 128, 16, 32, 32),
        Inception(256, 128, 128, 192, 32, 96, 64),
        nn.MaxPool2d(3, 2, 1),
        Inception(480, 192, 96, 208, 16, 48, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(512, 10),
    )


def double_conv(cin: int, width: int) -> nn.Module:
    return nn.Sequential(*conv_bn_relu(cin, width), *conv_bn_relu(width, width))


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.ModuleList([double_conv(1, 16), double_conv(16, 32), double_conv(32, 64)])
        self.bottom = double_conv(64, 128)
        self.up = nn.ModuleList([nn.ConvTranspose2d(2 * w, w, 2, stride=2) for w in (64, 32, 16)])
        self.dec = nn.ModuleList([double_conv(2 * w, w) for w in (64, 32, 16)])
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([skip, up(x)], 1))
        return self.head(x)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


def se_stage(cin: int, width: int, reduction: int) -> nn.Module:
    return nn.Sequential(
        *conv_bn_relu(cin, width),
        *conv_bn_relu(width, width),
        SqueezeExcitation(width, reduction),
        nn.MaxPool2d(2),
    )


def squeeze_excitation() -> nn.Module:
    return nn.Sequential(
        se_stage(3, 32, 4),
        se_stage(32, 64, 8),
        se_stage(64, 128, 16),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(128, 10),
    )


TWINS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int, int]] = {
    # file: (twin, input shape per sample, parameters, MACs)
    "blocks-resnet-basic": (resnet_basic, (3, 32, 32), 170_586, 21_938_816),
    "blocks-inception": (inception, (192, 28, 28), 933_738, 505_929_728),
    "unet-blocks": (UNet, (1, 64, 64), 482_466, 143_851_520),
    "blocks-squeeze-excitation": (squeeze_excitation, (3, 32, 32), 292_578, 38_638_336),
}


@pytest.mark.parametrize("stem", sorted(TWINS))
def test_the_example_counts_what_its_torch_twin_counts(stem: str) -> None:
    build, shape, params, macs = TWINS[stem]
    loaded = load(EXAMPLES / f"{stem}.nnd")
    assert loaded.blocks is not None and loaded.notes == []
    engine = analyse(loaded.arch)
    totals = engine.totals()
    assert (totals.params, totals.macs, totals.errors) == (params, macs, 0)
    twin = build().eval()
    assert sum(p.numel() for p in twin.parameters()) == params
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        twin(torch.zeros(1, *shape))
    assert counter.get_total_flops() // 2 == macs


@pytest.mark.parametrize(
    "stem",
    [
        "blocks-convnext",
        "blocks-inception",
        "blocks-mobilenetv2",
        "blocks-resnet-basic",
        "blocks-squeeze-excitation",
        "blocks-transformer",
        "unet-blocks",
    ],
)
def test_each_block_is_used_at_least_twice_with_different_params(stem: str) -> None:
    """What the file shows a block is for: one definition, used with different values."""
    design = load(EXAMPLES / f"{stem}.nnd").blocks
    assert design is not None
    uses: dict[str, list[dict[str, object]]] = {}
    members = list(design.nodes) + [m for b in design.library for m in b.nodes]
    for member in members:
        if member.type in {b.id for b in design.library}:
            uses.setdefault(member.type, []).append(dict(member.params))
    assert uses
    assert any(len({repr(sorted(p.items())) for p in used}) >= 2 for used in uses.values()), uses


def test_the_files_are_listed() -> None:
    from designer.ui.examples import DESCRIPTIONS

    for path in Path(EXAMPLES).glob("blocks-*.nnd"):
        assert path.stem in DESCRIPTIONS
    assert "unet-blocks" in DESCRIPTIONS
