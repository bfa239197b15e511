"""Benchmark of `designer check` on a 1,000,000-node chain: time and peak memory, whole
and phase by phase.

Run with `python bench/bench_check.py [NODES] [--root CHECKOUT]` from the repository root
(1,000,000 nodes by default). It writes a chain of NODES nodes to a temporary folder (an
Input [8, 16, 16], then Conv2d 3×3 with padding 1 and no bias, BatchNorm2d and ReLU
repeated, every node placed as the window's layout places a chain, one node or edge a line
as `designer.io.project.save` writes: 133 MB), then:

- runs `python -m designer check FILE` in a fresh child process REPEAT times and prints, for
  each run, its wall time, its CPU time (user + system) and its peak resident memory
  (`resource.getrusage(RUSAGE_CHILDREN)` taken in an intermediate process that starts only
  that one child, so `ru_maxrss` is that child's);
- runs the same check once more in a child that times its phases: each step of the check
  (reading the file, the JSON parse, the loader's checks, building the graph, the analysis,
  the output, freeing the design) is wrapped in a timer of CPU time (`time.process_time`),
  each phase's figure excluding the phases inside it.

`--root` times the designer of another checkout (e.g. an older commit unpacked with `git
archive`), for a before-and-after comparison on the same file; phases it does not have are
left out.

Targets: 10⁶ nodes checked in ≤ 10 s of CPU time and ≤ 2 GiB. Figures from a machine with
other jobs on its cores vary, and run slower; CPU time varies less than wall time.
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


# Run in a child: the check, with each phase's function wrapped in a CPU timer. A phase's
# figure excludes the wrapped phases it calls; "the rest" is what no wrapper covers
# (argparse, the summary line). Python's own start-up is left out of these figures (it is
# in the whole runs' above); "free the design" is `_run`'s own time, mostly the freeing of
# the design and its analysis as it returns.
_PHASES = """
import json, resource, sys, time
start = time.process_time()
from designer import cli
from designer.core import graph, propagate
from designer.io import project
try:
    from designer.io import json_text
except ImportError:  # a checkout from before the reading of JSON left designer.io.project
    json_text = project
try:
    from designer.io import plain_columns
except ImportError:  # a checkout from before the column reading left designer.io.project
    plain_columns = project
try:
    from designer.io import quick_read
except ImportError:  # a checkout from before msgspec read the file
    quick_read = project
spent, inside = {}, [0.0]

def timed(label, function):
    def wrapper(*args, **kwargs):
        outer, inside[0] = inside[0], 0.0
        began = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            took = time.process_time() - began
            spent[label] = spent.get(label, 0.0) + took - inside[0]
            inside[0] = outer + took
    return wrapper

def wrap(owner, name, label):
    if name not in owner.__dict__ and "_" + name in owner.__dict__:
        name = "_" + name  # its name in an older checkout
    function = owner.__dict__.get(name)
    if function is None:
        return
    if isinstance(function, classmethod):
        setattr(owner, name, classmethod(timed(label, function.__func__)))
    else:
        setattr(owner, name, timed(label, function))

spent["imports"] = time.process_time() - start
for owner, name, label in [
    (json_text, "read_file", "read the file"),
    (cli, "load", "decode the file's text"),
    (quick_read, "read", "quick read: msgspec's decode, the column tests"),
    (json_text, "plain_parse", "JSON parse (json.loads, surrogate scan, colon count)"),
    (json_text, "vouched", "JSON parse (json.loads, surrogate scan, colon count)"),
    (json_text, "careful_parse", "JSON parse, careful"),
    (json_text, "census", "JSON census (depth, keys)"),
    (project._Reader, "census", "JSON census (depth, keys)"),
    (project._Reader, "read", "loader, the rest (freeing the parsed document)"),
    (project._Reader, "_read_nodes", "loader: nodes"),
    (project._Reader, "_plain_nodes", "loader: nodes"),
    (project._Reader, "_read_edges", "loader: edges"),
    (project, "_plain_edges", "loader: edges"),
    (plain_columns, "plain_nodes", "loader: nodes"),
    (plain_columns, "plain_edges", "loader: edges"),
    (plain_columns, "checked_nodes", "loader: nodes"),
    (plain_columns, "checked_edges", "loader: edges"),
    (graph.Architecture, "build", "the design: its layers, order check, graph where written"),
    (graph.Architecture, "from_columns", "the design: its layers, order check, graph where written"),
    (propagate.Engine, "refresh", "analysis"),
    (propagate.Engine, "update", "analysis"),
    (propagate.Engine, "totals", "totals"),
    (cli, "_write_lines", "errors and warnings, written"),
    (cli, "_run", "free the design (main returns; the designer command ends without)"),
]:
    wrap(owner, name, label)
sys.stdout = open("/dev/null", "w")
status = cli.main(["check", sys.argv[1]])
total = time.process_time() - start
spent["the rest"] = total - sum(spent.values())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"phases": spent, "cpu": total, "peak": peak, "status": status}), file=sys.stderr)
"""


def phases(path: Path, root: Path) -> dict:
    """One `designer check` of `root`'s designer in a child that times its phases."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-c", _PHASES, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env=env,
    )
    return json.loads(run.stderr.strip().splitlines()[-1])


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
            if got["cpu"] > TARGET_SECONDS or got["peak"] > TARGET_BYTES:
                print(
                    f"  over target ({TARGET_SECONDS:.0f} s CPU, {TARGET_BYTES / 1024**3:.0f} GiB)"
                )
        got = phases(path, options.root.resolve())
        print("phases of one more run (CPU seconds, each without the phases inside it):")
        for label, seconds in sorted(got["phases"].items(), key=lambda item: -item[1]):
            print(f"  {seconds:7.2f}  {label}")
        print(
            f"  {got['cpu']:7.2f}  total CPU; peak memory {got['peak'] / 1024**2:,.0f} MiB, "
            f"exit {got['status']}"
        )
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print("the machine was busy: figures run slower than on a quiet one")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
