"""Benchmark of `designer report` on a large file: loading, analysis and the CSV report,
beside the floor a bare Python process sets for the same file.

Run with `python bench/bench_load.py [NODES]` from the repository root (10,000 nodes by
default). It saves a generated design (bench_engine's residual chain: conv/bn/relu blocks
with residual Adds, every node placed on the canvas) with `designer.io.project.save` to a
temporary folder, then times in one run, each figure the median of several
`time.perf_counter` runs:

- the floor: the file's text read, `json.loads`, a networkx MultiDiGraph built from its
  nodes and edges and `list(nx.topological_sort(graph))`;
- the designer: `load(path)`, `analyse(arch)` and `report.render(engine, "csv")`, what
  `designer report FILE` does, timed whole and part by part.

The layer memo is process-wide, so the designer's figures are a first analysis in a process
(`memo.forget()` before each run, as `designer report` finds it); the warm figure, as a
second design opened in a window finds it, is printed below them. Target: the designer
within 3x the floor.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import networkx as nx
from bench_engine import (
    BIG_GRAPH_NODES,
    busy_warning,
    check_clean,
    engine_version,
    load,
    machine,
    ms,
    print_table,
    residual_chain,
)

from designer.core import memo
from designer.core.graph import Architecture
from designer.core.layout import layered_positions
from designer.core.propagate import analyse
from designer.export import report
from designer.io import project

TARGET = 3.0
REPEAT = 7


def design_file(folder: Path, nodes: int) -> Path:
    """The residual chain of `nodes` nodes, placed as the window places an unplaced
    design and saved as the designer saves it."""
    arch = residual_chain(nodes).arch
    for node_id, pos in layered_positions(arch.graph).items():
        arch.move(node_id, pos)
    path = folder / f"residual-{nodes}.nnd"
    project.save(path, arch)
    return path


def floor(path: Path) -> list[Any]:
    """What any Python program pays for this file: read, parse, graph, order."""
    document = json.loads(path.read_text(encoding="utf-8"))
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(node["id"] for node in document["nodes"])
    graph.add_edges_from(
        (edge["source"], edge["target"], edge.get("port", 0)) for edge in document["edges"]
    )
    return list(nx.topological_sort(graph))


class Parts:
    """The designer's run in its three parts, each part's seconds kept per run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.times: dict[str, list[float]] = {"load": [], "analyse": [], "report": []}
        self.text = ""

    def run(self) -> None:
        clock = time.perf_counter
        start = clock()
        arch: Architecture = project.load(self.path).arch
        loaded = clock()
        engine = analyse(arch)
        analysed = clock()
        self.text = report.render(engine, "csv")
        done = clock()
        self.times["load"].append(loaded - start)
        self.times["analyse"].append(analysed - loaded)
        self.times["report"].append(done - analysed)


def timed(
    run: Callable[[], Any], repeat: int, setup: Callable[[], Any] | None = None
) -> list[float]:
    """Seconds of each of `repeat` runs of `run`; `setup` (untimed) before each."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else BIG_GRAPH_NODES
    load_before = load()
    print(f"machine: {machine()}")
    print(f"engine:  {engine_version()}")
    with tempfile.TemporaryDirectory() as folder:
        path = design_file(Path(folder), nodes)
        size = path.stat().st_size
        order = floor(path)
        check_clean(analyse(project.load(path).arch), "the generated design")
        first = Parts(path)
        first.run()  # imports and one-off caches out of the way
        rows_out = first.text.count("\n") - 1
        if len(order) != nodes or rows_out != nodes:
            raise SystemExit(f"expected {nodes} nodes, got {len(order)} and {rows_out} rows")
        floor_times: list[float] = []
        cold = Parts(path)
        warm = Parts(path)
        whole_cold: list[float] = []
        whole_warm: list[float] = []
        for _ in range(REPEAT):  # interleaved, so a busy spell hits both sides alike
            floor_times += timed(lambda: floor(path), 1)
            whole_cold += timed(cold.run, 1, memo.forget)
            whole_warm += timed(warm.run, 1)
    median = statistics.median
    base = median(floor_times)
    rows: list[tuple[str, ...]] = [
        (
            "floor: read + json.loads + nx graph + topological_sort",
            ms(base),
            ms(min(floor_times)),
            "",
        ),
    ]
    for label, parts, whole in (
        ("designer, first analysis in the process (memo.forget)", cold, whole_cold),
        ("designer, layer memo warm", warm, whole_warm),
    ):
        total = median(whole)
        rows.append((label, ms(total), ms(min(whole)), f"{total / base:5.2f}x"))
        for part, label_part in (
            ("load", "  load(path)"),
            ("analyse", "  analyse(arch)"),
            ("report", '  report.render(engine, "csv")'),
        ):
            times = parts.times[part]
            rows.append((label_part, ms(median(times)), ms(min(times)), ""))
    print(f"file: {nodes:,} nodes, {size / 1e6:.2f} MB; {REPEAT} runs each, interleaved")
    print_table(("measurement", "median", "min", "/ floor"), rows)
    ratio = median(whole_cold) / base
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(
        f"designer (first analysis) / floor: {ratio:.2f}x (medians; minimums "
        f"{min(whole_cold) / min(floor_times):.2f}x)  target <= {TARGET:g}x: {verdict}"
    )
    print("(gc on, collected before each run)")
    warning = busy_warning(load_before, load())
    if warning:
        print(warning)


if __name__ == "__main__":
    main()
