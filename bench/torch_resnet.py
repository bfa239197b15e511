"""ResNet-18 and ResNet-152 in plain torch (torchvision's layout, v1.5: stride on the 3×3
conv), for the benchmarks: torchinfo summarises ResNet-152 in bench_engine, and
bench_export and bench_import import this very file with the designer's importer. Written
out because torchvision does not install beside the pinned torch."""

from __future__ import annotations

from torch import Tensor, nn

STAGES = ((3, 64), (8, 128), (36, 256), (3, 512))  # (blocks, width) per stage


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNet152(nn.Sequential):
    def __init__(self) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        inplanes = 64
        for stage, (blocks, width) in enumerate(STAGES):
            for block in range(blocks):
                layers.append(Bottleneck(inplanes, width, 2 if stage > 0 and block == 0 else 1))
                inplanes = width * 4
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
        super().__init__(*layers)


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != width:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNet18(nn.Sequential):
    def __init__(self) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        inplanes = 64
        for stage, width in enumerate((64, 128, 256, 512)):
            for block in range(2):
                layers.append(BasicBlock(inplanes, width, 2 if stage > 0 and block == 0 else 1))
                inplanes = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
        super().__init__(*layers)
