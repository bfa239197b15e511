"""Benchmark of opening a very large design in the window, and of arranging it.

Run with `QT_QPA_PLATFORM=offscreen python bench/bench_window_open.py [NODES]` from the
repository root (the script sets the offscreen platform itself where QT_QPA_PLATFORM is
unset). NODES defaults to 50,000. It prints one table:

- **open, no positions**: `MainWindow.open_path` of a generated residual chain
  (bench_engine.residual_chain) saved without positions, so the open includes the
  automatic layered layout, then event processing and a forced repaint of the window and
  the canvas, so drawing counts; target <= 5 s at 50,000 nodes;
- **open, with positions**: the same design saved with every node placed (scattered);
- **arrange**: View ▸ Arrange (`MainWindow.arrange`) of that design, which moves every
  node, painted;
- **undo arrange**: the undo of that step, painted.

Each figure is one run (a 50,000-node open is seconds), as wall time and as this process's
CPU time (which a busy shared machine inflates less). `--profile` prints the 30 costliest functions of
the open (cProfile, cumulative) instead of the table.

Settings, autosaves and the data folder live in a temporary folder: the user's files are
untouched.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_engine import load, machine, print_footer, print_table, residual_chain
from bench_window import check_window, painted, window_in

from designer.io.project import save

NODES = 50_000
OPEN_TARGET = 5.0  # seconds, NODES nodes, without positions


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time says
    what the work costs when the wall time is inflated by others' load."""
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - started, time.process_time() - cpu


def secs(figures: tuple[float, float]) -> str:
    return f"{figures[0]:.2f} s"


def cpu(figures: tuple[float, float]) -> str:
    return f"{figures[1]:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nodes", nargs="?", type=int, default=NODES)
    parser.add_argument("--profile", action="store_true", help="profile the open instead")
    options = parser.parse_args()
    nodes = options.nodes
    started = time.perf_counter()
    load_before = load()
    print(f"machine: {machine()}")
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="bench_window_open_") as temp:
        folder = Path(temp)
        app, window = window_in(folder)
        design = residual_chain(nodes).arch
        bare = folder / "bare.nnd"
        save(bare, design)

        def open_bare() -> None:
            assert window.open_path(bare)
            painted(window)

        if options.profile:
            profile = cProfile.Profile()
            profile.runcall(open_bare)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            window.close()
            return

        opened = timed(open_bare)
        verdict = "met" if opened[0] <= OPEN_TARGET else "MISSED"
        rows.append(
            (f"open, {nodes:,} nodes, no positions (layout included)", secs(opened), cpu(opened),
             f"<= {OPEN_TARGET:g} s", verdict)
        )  # fmt: skip
        check_window(window)

        # the same design saved with its nodes scattered, so Arrange moves every node
        placed = folder / "placed.nnd"
        for i, node in enumerate(design.nodes()):
            design.move(node.id, (float((i * 7919) % 4000), float(i * 90)))
        save(placed, design)

        def open_placed() -> None:
            assert window.open_path(placed)
            painted(window)

        def arrange() -> None:
            window.arrange()
            painted(window)

        def undo() -> None:
            window.document.undo_stack.undo()
            painted(window)

        for what, run in (
            (f"open, {nodes:,} nodes, with positions (a second design)", open_placed),
            (f"arrange, {nodes:,} nodes (moves every node)", arrange),
            (f"undo arrange, {nodes:,} nodes", undo),
        ):
            figures = timed(run)
            rows.append((what, secs(figures), cpu(figures), "", ""))
            check_window(window)
        window.document.undo_stack.clear()
        window.close()
        app.processEvents()

    print_table(("measurement", "wall", "CPU", "target", ""), rows)
    print_footer(started, load_before)


if __name__ == "__main__":
    main()
