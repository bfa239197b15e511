"""Benchmark of PyTorch export and import.

Run with `python bench/bench_export.py` from the repository root. It prints the time to
export a 1,000-node design as Python source (target ≤ 100 ms) and, when torch is
installed, the time to import a ResNet-152-sized model (tracing included).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_engine import machine, measure, ms, residual_chain

from designer.core.propagate import analyse
from designer.export.pytorch import export

TORCH_RESNET = Path(__file__).resolve().parent / "torch_resnet.py"


def main() -> None:
    print(f"machine: {machine()}")
    design = residual_chain(1_000).arch
    engine = analyse(design)
    timing = measure(lambda: export(design, engine), repeat=15)
    lines = [
        f"export, {len(design):,}-node design       {ms(timing.median)} (min {ms(timing.best)})  target <= 100 ms"
    ]
    try:
        import torch  # noqa: F401
    except ImportError:
        lines.append("import, ResNet-152: skipped (torch is not installed)")
    else:
        from designer.io.pytorch_import import import_model

        imported = import_model(TORCH_RESNET, "ResNet152", [(3, 224, 224)])
        timing = measure(lambda: import_model(TORCH_RESNET, "ResNet152", [(3, 224, 224)]), repeat=5)
        params = analyse(imported).totals().params
        lines.append(
            f"import, ResNet-152 ({len(imported)} nodes, {params:,} params)  "
            f"{ms(timing.median)} (min {ms(timing.best)})"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
