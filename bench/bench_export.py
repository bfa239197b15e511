"""Benchmark of PyTorch export and import.

Run with `python bench/bench_export.py` from the repository root. It prints the time to
export a 1,000-node design as Python source (target ≤ 100 ms) and, when torch is
installed, the time to import a ResNet-152-sized model (tracing included).
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_engine import machine, measure, ms, residual_chain  # noqa: E402

from designer.core.propagate import analyse  # noqa: E402
from designer.export.pytorch import export  # noqa: E402

RESNET152_SOURCE = textwrap.dedent(
    """
    from torch import nn


    class Bottleneck(nn.Module):
        def __init__(self, inplanes, width, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or inplanes != width * 4:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, width * 4, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(width * 4),
                )

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + (x if self.downsample is None else self.downsample(x)))


    class ResNet152(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            )
            blocks, inplanes = [], 64
            for stage, (count, width) in enumerate(zip((3, 8, 36, 3), (64, 128, 256, 512))):
                for index in range(count):
                    blocks.append(Bottleneck(inplanes, width, 2 if stage and not index else 1))
                    inplanes = width * 4
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x):
            return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))
    """
)


def main() -> None:
    print(f"machine: {machine()}")
    design = residual_chain(1_000).arch
    engine = analyse(design)
    timing = measure(lambda: export(design, engine), repeat=15)
    lines = [f"export, {len(design):,}-node design       {ms(timing.median)} (min {ms(timing.best)})  target <= 100 ms"]
    try:
        import torch  # noqa: F401
    except ImportError:
        lines.append("import, ResNet-152: skipped (torch is not installed)")
    else:
        from designer.io.pytorch_import import import_model

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet152.py"
            path.write_text(RESNET152_SOURCE)
            imported = import_model(path, "ResNet152", [(3, 224, 224)])
            timing = measure(lambda: import_model(path, "ResNet152", [(3, 224, 224)]), repeat=5)
        params = analyse(imported).totals().params
        lines.append(
            f"import, ResNet-152 ({len(imported)} nodes, {params:,} params)  "
            f"{ms(timing.median)} (min {ms(timing.best)})"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
