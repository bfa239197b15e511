"""Benchmark of `designer check` on a 1,000,000-node chain: time and peak memory.

Run with `python bench/bench_check.py [NODES] [--root CHECKOUT]` from the repository root
(1,000,000 nodes by default). It writes a chain of NODES nodes to a temporary folder (an
Input [8, 16, 16], then Conv2d 3×3 with padding 1 and no bias, BatchNorm2d and ReLU
repeated, every node placed as the window's layout places a chain, one node or edge a line
as `designer.io.project.save` writes: 133 MB), then runs `python -m designer check FILE`
in a fresh child process REPEAT times and prints, for each run, its wall time, its CPU
time (user + system) and its peak resident memory (`resource.getrusage(RUSAGE_CHILDREN)`
taken in an intermediate process that starts only that one child, so `ru_maxrss` is that
child's). `--root` times the designer of another checkout (e.g. an older commit unpacked
with `git archive`), for a before-and-after comparison on the same file.

Targets: 10⁶ nodes checked in ≤ 10 s and ≤ 2 GiB. Figures from a machine with other jobs
on its cores vary, and run slower; CPU time varies less than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODES = 1_000_000
REPEAT = 3
TARGET_SECONDS = 10.0
TARGET_BYTES = 2 * 1024**3
ROW_HEIGHT = 120  # designer.core.layout's: a chain is one column


def write_chain(path: Path, nodes: int) -> None:
    """A chain of `nodes` nodes in the saved file format, written line by line."""
    conv = '{"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": false}'
    layers = [
        f'"type": "Conv2d", "params": {conv}',
        '"type": "BatchNorm2d"',
        '"type": "ReLU"',
    ]
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n  "format": "nn-designer-project",\n  "version": 2,\n')
        out.write(f'  "name": "chain of {nodes:,}",\n  "nodes": [\n')
        out.write('    {"id": "input", "type": "Input", "params": {"shape": [8, 16, 16]}, ')
        out.write('"pos": [0, 0]}')
        for i in range(1, nodes):
            layer = layers[(i - 1) % 3]
            out.write(f',\n    {{"id": "n{i}", {layer}, "pos": [0, {i * ROW_HEIGHT}]}}')
        out.write('\n  ],\n  "edges": [\n')
        previous = "input"
        for i in range(1, nodes):
            comma = "," if i < nodes - 1 else ""
            out.write(f'    {{"source": "{previous}", "target": "n{i}"}}{comma}\n')
            previous = f"n{i}"
        out.write("  ]\n}\n")


_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
run = subprocess.run([sys.executable, "-m", "designer", "check", sys.argv[1]],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
last = run.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
print(json.dumps({
    "wall": wall,
    "cpu": usage.ru_utime + usage.ru_stime,
    "peak": usage.ru_maxrss * 1024,  # KiB on Linux
    "status": run.returncode,
    "last": last[0],
    "stderr": run.stderr.decode("utf-8", "replace")[-300:],
}))
"""


def measure(path: Path, root: Path) -> dict:
    """One `designer check` of `root`'s designer in a fresh child process: wall and CPU
    seconds, peak bytes, exit status, the last line it printed."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env=env,
    ).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", nargs="?", type=int, default=NODES)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to time")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    options = parser.parse_args()
    load = os.getloadavg()[0]
    print(
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f}; timing {options.root}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chain.nnd"
        start = time.perf_counter()
        write_chain(path, options.nodes)
        size = path.stat().st_size
        print(
            f"wrote {options.nodes:,} nodes, {size / 1e6:.1f} MB, "
            f"in {time.perf_counter() - start:.1f} s"
        )
        for run in range(1, options.repeat + 1):
            got = measure(path, options.root.resolve())
            print(
                f"run {run}: designer check: {got['wall']:.2f} s wall, {got['cpu']:.2f} s CPU, "
                f"peak memory {got['peak'] / 1024**2:,.0f} MiB, exit {got['status']}, "
                f"last line {got['last']!r}"
            )
            if got["status"] != 0:
                print(f"  standard error: {got['stderr']}")
                failed = True
            if got["wall"] > TARGET_SECONDS or got["peak"] > TARGET_BYTES:
                print(f"  over target ({TARGET_SECONDS:.0f} s, {TARGET_BYTES / 1024**3:.0f} GiB)")
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print("the machine was busy: figures run slower than on a quiet one")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
