"""Benchmark of the analysis engine: full analyses, incremental edits, and torchinfo.

Run with `python bench/bench_engine.py` from the repository root. It prints the machine,
then one table: each figure is the median (and the minimum) of several repetitions timed
with time.perf_counter, beside the target it is measured against. The whole run takes under
a minute on a quiet machine (time budgets cap the slow torch part on a busy one). This is a
benchmark, not a test: it fails only if a graph it builds does not analyse as intended.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.core import memo
from designer.core.edits import SetParams
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import Engine

RESNET152_PARAMS = 60_192_808  # sum(p.numel() for p in torchvision.models.resnet152().parameters())
RESNET152_LAYERS = (3, 8, 36, 3)
BIG_GRAPH_NODES = 10_000


# graph building -------------------------------------------------------------------------


class GraphBuilder:
    """Collects node and edge records; `add` appends a node fed by the given sources."""

    def __init__(self) -> None:
        self.nodes: list[NodeRecord] = []
        self.edges: list[EdgeRecord] = []

    def add(self, node_id: str, kind: str, sources: tuple[str, ...] = (), **params: Any) -> str:
        self.nodes.append(NodeRecord(node_id, kind, params))
        self.edges.extend(EdgeRecord(source, node_id, port) for port, source in enumerate(sources))
        return node_id

    def conv_bn(
        self,
        prefix: str,
        source: str,
        out: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        relu: bool = True,
    ) -> str:
        """Conv2d (no bias) → BatchNorm2d → optional ReLU; returns the last node's id."""
        x = self.add(
            f"{prefix}.conv",
            "Conv2d",
            (source,),
            out_channels=out,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            bias=False,
        )
        x = self.add(f"{prefix}.bn", "BatchNorm2d", (x,))
        return self.add(f"{prefix}.relu", "ReLU", (x,)) if relu else x

    def build(self, name: str) -> Architecture:
        return Architecture.build(name, self.nodes, self.edges)


def resnet152() -> Architecture:
    """torchvision's ResNet-152 (v1.5: stride on the 3×3 conv) on 3×224×224 inputs."""
    g = GraphBuilder()
    x = g.add("input", "Input", shape=[3, 224, 224])
    x = g.conv_bn("stem", x, 64, 7, stride=2, padding=3)
    x = g.add("maxpool", "MaxPool2d", (x,), kernel_size=3, stride=2, padding=1)
    channels = 64
    for stage, (blocks, width) in enumerate(zip(RESNET152_LAYERS, (64, 128, 256, 512)), 1):
        for block in range(blocks):
            p = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            y = g.conv_bn(f"{p}.a", x, width, 1)
            y = g.conv_bn(f"{p}.b", y, width, 3, stride=stride, padding=1)
            y = g.conv_bn(f"{p}.c", y, width * 4, 1, relu=False)
            shortcut = x
            if block == 0 and (stride != 1 or channels != width * 4):
                shortcut = g.conv_bn(f"{p}.downsample", x, width * 4, 1, stride=stride, relu=False)
            y = g.add(f"{p}.add", "Add", (y, shortcut))
            x = g.add(f"{p}.out", "ReLU", (y,))
            channels = width * 4
    x = g.add("avgpool", "AdaptiveAvgPool2d", (x,), output_size=[1, 1])
    x = g.add("flatten", "Flatten", (x,))
    g.add("fc", "Linear", (x,), out_features=1000)
    return g.build("ResNet-152")


@dataclass(frozen=True)
class BigGraph:
    arch: Architecture
    mid_conv: str  # a 3×3 conv inside a residual block, halfway down
    mid_transition: str  # a 1×1 conv between stages, halfway down: its padding resizes the rest


def residual_chain(
    target: int = BIG_GRAPH_NODES, channels: int = 8, stage_blocks: int = 50
) -> BigGraph:
    """`target` nodes: a stem, then stages of residual blocks (3×3 conv/bn/relu/conv/bn, Add,
    ReLU) on a 3×64×64 input, each stage opened by a 1×1 transition conv outside any
    residual, then avgpool/flatten/linear. ReLUs pad the count to exactly `target`."""
    g = GraphBuilder()
    head = 3
    x = g.add("input", "Input", shape=[3, 64, 64])
    x = g.conv_bn("stem", x, channels, 3, padding=1)
    block = 0
    transitions: list[str] = []
    convs: list[str] = []
    while len(g.nodes) + 7 + 3 + head <= target:
        if block % stage_blocks == 0:
            x = g.conv_bn(f"t{block}", x, channels, 1)
            transitions.append(f"t{block}.conv")
        y = g.conv_bn(f"b{block}.1", x, channels, 3, padding=1)
        convs.append(f"b{block}.1.conv")
        y = g.conv_bn(f"b{block}.2", y, channels, 3, padding=1, relu=False)
        y = g.add(f"b{block}.add", "Add", (y, x))
        x = g.add(f"b{block}.out", "ReLU", (y,))
        block += 1
    filler = 0
    while len(g.nodes) + head < target:
        x = g.add(f"pad{filler}", "ReLU", (x,))
        filler += 1
    x = g.add("avgpool", "AdaptiveAvgPool2d", (x,), output_size=[1, 1])
    x = g.add("flatten", "Flatten", (x,))
    g.add("fc", "Linear", (x,), out_features=10)
    arch = g.build(f"residual chain, {target} nodes")
    return BigGraph(arch, convs[len(convs) // 2], transitions[len(transitions) // 2])


# torch ----------------------------------------------------------------------------------


def torch_resnet152() -> Any:
    """The same network in torch (bench/torch_resnet.py), in eval mode."""
    from torch_resnet import ResNet152

    return ResNet152().eval()


# timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    median: float
    best: float
    worst: float
    runs: int

    @classmethod
    def of(cls, times: list[float]) -> Timing:
        return cls(statistics.median(times), min(times), max(times), len(times))


def measure(
    run: Callable[[], Any],
    repeat: int,
    setup: Callable[[], Any] | None = None,
    budget: float = 30.0,
) -> Timing:
    """Median and minimum seconds of `run` over `repeat` runs (fewer, but at least 3, once
    `budget` seconds are spent); `setup` runs untimed before each."""
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < repeat and (len(times) < 3 or time.perf_counter() < deadline):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return Timing.of(times)


def full_analysis(arch: Architecture) -> Engine:
    """What opening a design costs: a new Engine and its first refresh."""
    engine = Engine(arch)
    engine.refresh()
    return engine


def time_full_analysis(arch: Architecture, repeat: int, first: bool = False) -> Timing:
    """A new Engine's first refresh; `first`: with the process's layer memo emptied before
    each run, as for the first design opened in a process."""

    def run() -> None:
        full_analysis(arch).close()

    return measure(run, repeat, memo.forget if first else None)


def time_edit(
    engine: Engine, node_id: str, name: str, values: tuple[Any, Any], repeat: int
) -> tuple[Timing, int]:
    """Time SetParams.apply + refresh, alternating `name` between two values (so each run
    is a real change); returns the timing and the most results one edit changed."""
    arch = engine.arch
    changed: list[int] = []
    edits = 0
    edit: SetParams | None = None

    def prepare() -> None:  # untimed: the edit object is built before the user's click lands
        nonlocal edit, edits
        edits += 1
        edit = SetParams.with_param(arch, node_id, name, values[edits % 2])

    def run() -> None:
        assert edit is not None
        edit.apply(arch)
        changed.append(len(engine.refresh()))

    timing = measure(run, repeat, prepare)
    if edits % 2:  # leave the graph as it was
        SetParams.with_param(arch, node_id, name, values[0]).apply(arch)
        engine.refresh()
    return timing, max(changed)


# report ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f} ms"


def check_clean(engine: Engine, what: str) -> None:
    """Refuse to report on a graph that does not analyse end to end."""
    bad = [n for n, r in engine.results.items() if r.output is None]
    if bad:
        raise SystemExit(
            f"{what}: {len(bad)} nodes without a result, first {bad[0]}: "
            f"{engine.results[bad[0]].reason}"
        )


def cpu_model() -> str:
    """The CPU's marketing name where the system tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    return (
        f"{platform.platform()} | {cpu_model()} | "
        f"Python {platform.python_version()} ({platform.python_implementation()}) | "
        f"{os.cpu_count()} CPUs{load_average()}"
    )


def engine_version() -> str:
    """The commit measured, marked dirty where designer/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "designer"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit.strip()[:72] + (" + uncommitted changes in designer/" if dirty.strip() else "")


def load() -> float | None:
    """The 1-minute load average, where the system tells it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_average() -> str:
    """The load for the machine line: other work on the machine skews every figure."""
    now = load()
    return "" if now is None else f", load {now:.2f}"


def busy_warning(at_start: float | None, at_end: float | None) -> str | None:
    """A warning when other work competed for the CPUs: a load of more than half the CPUs
    before the run, or more than all of them (this run uses at most that) after it."""
    cpus = os.cpu_count() or 1
    if at_start is None or at_end is None or (at_start <= 0.5 * cpus and at_end <= cpus + 0.5):
        return None
    return (
        f"warning: the machine was busy (load {at_start:.2f} before, {at_end:.2f} after, "
        f"{cpus} CPUs): figures, torch's multi-threaded ones most, may be inflated; "
        "rerun on a quiet machine"
    )


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """The measurements as aligned columns under their headers."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    for line in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


def print_footer(started: float, load_before: float | None) -> None:
    """How the run was timed and how long it took, and a warning if the machine was busy."""
    print(f"(gc on, collected before each run; whole run {time.perf_counter() - started:.0f} s)")
    warning = busy_warning(load_before, load())
    if warning:
        print(warning)


def time_torchinfo(repeat: int) -> tuple[str, list[tuple[int, Timing]]] | str:
    """torchinfo.summary of the torch ResNet-152 with torch's default threads and with one
    (steadier on a busy machine), or why it cannot be measured."""
    try:
        import torch
        import torchinfo
    except ImportError as error:
        return f"skipped: {error.name} is not installed"
    model = torch_resnet152()
    torch_params = sum(p.numel() for p in model.parameters())
    if torch_params != RESNET152_PARAMS:
        raise SystemExit(f"hand-written torch ResNet-152 has {torch_params:,} params")

    def summary() -> None:
        torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)

    default_threads = torch.get_num_threads()
    timings = []
    warm_ups = []
    for threads in dict.fromkeys((default_threads, 1)):
        torch.set_num_threads(threads)
        warm_ups.append(str(warm_up(summary, budget=15.0)))
        timings.append((threads, measure(summary, repeat, budget=15.0)))
    torch.set_num_threads(default_threads)
    versions = (
        f"torch {torch.__version__}, torchinfo {getattr(torchinfo, '__version__', '?')}, "
        f"{'/'.join(warm_ups)} warm-up calls"
    )
    return versions, timings


def warm_up(run: Callable[[], Any], most: int = 8, budget: float = 30.0) -> int:
    """Call `run` until two calls in a row agree within 25% (torch's first forwards on a
    new model can be 10-30x slower than later ones), for at most `most` calls or `budget`
    seconds; returns how many calls it took."""
    previous = float("inf")
    deadline = time.perf_counter() + budget
    for calls in range(1, most + 1):
        if time.perf_counter() > deadline:
            return calls - 1
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        if calls > 1 and abs(elapsed - previous) <= 0.25 * min(elapsed, previous):
            return calls
        previous = elapsed
    return most


def main() -> None:
    started = time.perf_counter()
    load_before = load()
    print(f"machine: {machine()}")
    print(f"engine:  {engine_version()}")
    rows: list[tuple[str, ...]] = []

    def row(what: str, t: Timing, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        rows.append((what, ms(t.median), ms(t.best), str(t.runs), target, verdict))

    resnet = resnet152()
    engine = full_analysis(resnet)
    check_clean(engine, "ResNet-152")
    params = engine.totals().params
    engine.close()
    verdict = "equal" if params == RESNET152_PARAMS else "DIFFERENT"
    print(
        f"ResNet-152: {len(resnet)} nodes, {params:,} params "
        f"(torchvision: {RESNET152_PARAMS:,}, {verdict})"
    )
    if params != RESNET152_PARAMS:
        raise SystemExit("the ResNet-152 graph does not match torchvision's")
    first_time = time_full_analysis(resnet, repeat=101, first=True)
    row(f"full analysis, ResNet-152 ({len(resnet)} nodes), first in the process", first_time)
    resnet_time = time_full_analysis(resnet, repeat=101)
    row(f"full analysis, ResNet-152 ({len(resnet)} nodes), layer memo warm", resnet_time)

    big = residual_chain()
    engine = full_analysis(big.arch)
    check_clean(engine, "10,000-node chain")
    big_time = time_full_analysis(big.arch, repeat=7, first=True)
    row(
        f"full analysis, {len(big.arch):,} nodes, first in the process",
        big_time,
        "<= 100 ms",
        big_time.median <= 0.1,
    )

    quiet, quiet_changed = time_edit(engine, big.mid_conv, "bias", (False, True), repeat=201)
    row(
        f"edit, nothing downstream ({big.mid_conv} bias; {quiet_changed} changed)",
        quiet,
        "<= 1 ms",
        quiet.median <= 1e-3,
    )
    loud, loud_changed = time_edit(engine, big.mid_transition, "padding", (0, 1), repeat=10)
    row(f"edit, all downstream ({big.mid_transition} padding; {loud_changed:,} changed)", loud)
    check_clean(engine, "10,000-node chain after the edits")
    engine.close()

    torch_times = time_torchinfo(repeat=9)
    print()
    if isinstance(torch_times, str):
        torch_line = f"torchinfo.summary / engine, ResNet-152: {torch_times}"
    else:
        versions, timings = torch_times
        for threads, timing in timings:
            plural = "s" if threads > 1 else ""
            row(f"torchinfo.summary, ResNet-152, {threads} torch thread{plural}", timing)
        fastest = min((t for _, t in timings), key=lambda t: t.median)
        factor = fastest.median / resnet_time.median
        first_factor = fastest.median / first_time.median
        torch_line = (
            f"torchinfo.summary (fastest, after warm-up calls) / engine full analysis "
            f"(layer memo warm), ResNet-152: {factor:,.1f}x (medians; minimums "
            f"{fastest.best / resnet_time.best:,.1f}x)  target >= 100x: "
            f"{'met' if factor >= 100 else 'MISSED'}\n"
            f"  against the first analysis in a process: {first_factor:,.1f}x (medians)\n"
            f"  ({versions})"
        )

    print_table(("measurement", "median", "min", "runs", "target", ""), rows)
    print(torch_line)
    print_footer(started, load_before)


if __name__ == "__main__":
    main()
