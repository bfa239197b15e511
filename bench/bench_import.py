"""Benchmark of `designer import` as a user runs it: a fresh process importing torch,
tracing the model and writing the project file.

Run with `python bench/bench_import.py` from the repository root (needs torch). It times
`python -m designer import bench/torch_resnet.py:CLASS --input 3x224x224 -o FILE` for
ResNet-18 (target ≤ 2.5 s) and ResNet-152, medians of a few runs, beside the time a bare
`python -c "import torch"` takes, which every import pays.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import machine

TORCH_RESNET = Path(__file__).resolve().parent / "torch_resnet.py"
RUNS = 3


def timed(command: list[str]) -> float:
    """The median wall time of running `command`, which must succeed."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"machine: {machine()}")
    subprocess.run([sys.executable, "-c", "import torch"], check=True)  # warm the file cache
    floor = timed([sys.executable, "-c", "import torch"])
    print(f"python -c 'import torch'               {floor:6.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        for name, target in (("ResNet18", 2.5), ("ResNet152", None)):
            out = Path(folder) / f"{name}.nnd"
            command = [
                *(sys.executable, "-m", "designer", "import", f"{TORCH_RESNET}:{name}"),
                *("--input", "3x224x224", "-o", str(out)),
            ]
            seconds = timed(command)
            goal = ""
            if target is not None:
                goal = f"  target <= {target} s: {'met' if seconds <= target else 'MISSED'}"
            print(f"designer import {name:<10}             {seconds:6.2f} s{goal}")


if __name__ == "__main__":
    main()
