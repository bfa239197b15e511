"""Benchmark of designs with blocks beside the same designs written flat.

Run with `python bench/bench_blocks.py` from the repository root (the script sets
QT_QPA_PLATFORM=offscreen itself where it is unset). It prints the machine, the ResNet-152's
totals (checked against torchvision's), then one table, blocks and flat side by side, each
figure the median (and the minimum) of several runs timed with time.perf_counter:

- **full analysis** of ResNet-152 built from Bottleneck blocks (stages 3/8/36/3, each a
  Stage block whose plain Bottlenecks are one `repeat`): flatten + Flat.architecture +
  a new Engine's first refresh, whole and by phase, beside the flattened Architecture
  analysed directly (what a flat file gives); with the process's layer memo emptied before
  each run (`memo.forget`) and with it warm;
- **an edit inside the Bottleneck definition**: the 3×3 conv of the plain Bottleneck made
  5×5 (padding 2), which changes 46 convs: as the window does it, a SetParams in the
  block's scope, the library read back from the scopes, flatten, architecture and
  analyse, beside one Compound of SetParams (one per conv) applied to
  the flat design and `engine.refresh()`; each run a real change (5×5 and 3×3 in turn);
- **opening a design of 100 block instances** (conv-bn-relu blocks) in the window:
  `MainWindow.open_path` of the file with blocks (the canvas shows its top level, an
  instance a node, the flat design analysed behind it) and of the same design saved
  flat, painted, the first open with the memo emptied and later ones.

Under two minutes on a 2-CPU machine. Settings and autosaves live in a temporary folder.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_engine import (
    RESNET152_LAYERS,
    RESNET152_PARAMS,
    Timing,
    check_clean,
    load,
    machine,
    measure,
    print_footer,
    print_table,
)

from designer.core import memo
from designer.core.block_editing import ScopedDesign, members
from designer.core.block_flatten import Flat, flatten
from designer.core.blocks import BlockDef, Instance, Library, Member
from designer.core.edits import Compound, Edit, SetParams
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import Engine
from designer.io.project import save
from designer.io.project_format import BlockDesign

# torchvision lists 11.514 GFLOPS (multiply-adds) for ResNet-152; counted exactly by torch's
# FlopCounterMode on bench/torch_resnet.py (conv and linear; /2): checked below where torch is
RESNET152_MACS = 11_513_626_624
EDITED_BLOCK = "BottleneckId"  # the plain Bottleneck: 2 + 7 + 35 + 2 = 46 uses
INSTANCES = 100  # conv-bn-relu instances in the design the window opens

Phases = dict[str, list[float]]


# designs --------------------------------------------------------------------------------


def E(text: str) -> dict[str, str]:
    """A param value computed from the block's params."""
    return {"expr": text}


def node(node_id: str, kind: str, **params: Any) -> NodeRecord:
    return NodeRecord(node_id, kind, params)


def chain(*ids: str) -> list[EdgeRecord]:
    return [EdgeRecord(a, b) for a, b in pairwise(ids)]


def conv(node_id: str, channels: Any, kernel: int, stride: Any = 1) -> NodeRecord:
    """A bias-free conv padded to keep the size before its stride, as torchvision's."""
    return node(
        node_id,
        "Conv2d",
        out_channels=channels,
        kernel_size=kernel,
        stride=stride,
        padding=kernel // 2,
        bias=False,
    )


def bottleneck(block_id: str, projected: bool) -> BlockDef:
    """torchvision's Bottleneck (stride on the k×k conv `c2`), with a 1×1 projection on
    the shortcut where `projected`."""
    params = {"width": 64, "stride": 1} if projected else {"width": 64}
    stride = E("stride") if projected else 1
    body = [
        conv("c1", E("width"), 1),
        node("bn1", "BatchNorm2d"),
        node("relu1", "ReLU"),
        conv("c2", E("width"), 3, stride),
        node("bn2", "BatchNorm2d"),
        node("relu2", "ReLU"),
        conv("c3", E("width * 4"), 1),
        node("bn3", "BatchNorm2d"),
    ]
    down = [conv("down", E("width * 4"), 1, stride), node("down_bn", "BatchNorm2d")]
    shortcut = [n.id for n in down] if projected else []
    nodes = [
        node("x", "BlockInput"),
        *body,
        *(down if projected else []),
        node("add", "Add"),
        node("relu", "ReLU"),
        node("y", "BlockOutput"),
    ]
    edges = chain("x", *(n.id for n in body)) + chain("x", *shortcut) + chain("add", "relu", "y")
    edges += [EdgeRecord("bn3", "add", 0), EdgeRecord((shortcut or ["x"])[-1], "add", 1)]
    return BlockDef(block_id, params, nodes, edges)


def resnet_library() -> Library:
    """Bottleneck (projected), BottleneckId (plain) and Stage: a projected block, then
    `depth - 1` plain ones as one repeated instance."""
    stage = BlockDef(
        "Stage",
        {"width": 64, "stride": 1, "depth": 2},
        [
            node("x", "BlockInput"),
            Instance("first", "Bottleneck", {"width": E("width"), "stride": E("stride")}),
            Instance("rest", EDITED_BLOCK, {"width": E("width")}, repeat=E("depth - 1")),
            node("y", "BlockOutput"),
        ],
        chain("x", "first", "rest", "y"),
    )
    return Library(
        [bottleneck("Bottleneck", True), bottleneck(EDITED_BLOCK, False), stage],
    )


def resnet152_top() -> tuple[list[Member], list[EdgeRecord]]:
    """The stem, four Stage instances (3/8/36/3 blocks) and the classifier."""
    stages = [
        Instance(f"layer{i}", "Stage", {"width": width, "stride": 1 if i == 1 else 2, "depth": n})
        for i, (n, width) in enumerate(zip(RESNET152_LAYERS, (64, 128, 256, 512)), 1)
    ]
    nodes: list[Member] = [
        node("input", "Input", shape=[3, 224, 224]),
        conv("stem", 64, 7, 2),
        node("stem_bn", "BatchNorm2d"),
        node("stem_relu", "ReLU"),
        node("pool", "MaxPool2d", kernel_size=3, stride=2, padding=1),
        *stages,
        node("gap", "AdaptiveAvgPool2d", output_size=1),
        node("flat", "Flatten"),
        node("fc", "Linear", out_features=1000),
    ]
    return nodes, chain(*(n.id for n in nodes))


def conv_block_design() -> tuple[list[Member], list[EdgeRecord], Library]:
    """INSTANCES conv-bn-relu instances in a chain on 16×32×32, then a classifier."""
    block = BlockDef(
        "ConvBnRelu",
        {"width": 16},
        [
            node("x", "BlockInput"),
            node("conv", "Conv2d", out_channels=E("width"), kernel_size=3, padding=1),
            node("bn", "BatchNorm2d"),
            node("relu", "ReLU"),
            node("y", "BlockOutput"),
        ],
        chain("x", "conv", "bn", "relu", "y"),
    )
    nodes: list[Member] = [
        node("input", "Input", shape=[16, 32, 32]),
        *(Instance(f"block{i}", "ConvBnRelu", {"width": 16}) for i in range(INSTANCES)),
        node("gap", "AdaptiveAvgPool2d", output_size=1),
        node("flat", "Flatten"),
        node("fc", "Linear", out_features=10),
    ]
    return nodes, chain(*(n.id for n in nodes)), Library([block])


def torch_counts() -> str:
    """Params and MACs of bench/torch_resnet.py's ResNet-152 by torch (FlopCounterMode
    counts two FLOPs per multiply-add), checked against the engine's; or why not."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode
        from torch_resnet import ResNet152
    except ImportError as error:
        return f"skipped: {error.name} is not installed"
    model = ResNet152().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    params = sum(p.numel() for p in model.parameters())
    macs = counter.get_total_flops() // 2
    assert (params, macs) == (RESNET152_PARAMS, RESNET152_MACS), (params, macs)
    return f"{params:,} params, {macs:,} MACs (equal)"


# timing ---------------------------------------------------------------------------------


def full_analysis(arch: Architecture) -> Engine:
    """What opening a design costs: a new Engine and its first refresh."""
    engine = Engine(arch)
    engine.refresh()
    return engine


def measure_phases(
    phases: Sequence[tuple[str, Callable[[Any], Any]]],
    repeat: int,
    setup: Callable[[], Any] | None = None,
    budget: float = 15.0,
) -> tuple[Timing, dict[str, Timing]]:
    """Run `phases` in order, each given the previous one's result, `repeat` times (fewer,
    but at least 3, once `budget` seconds are spent): the whole's timing and each phase's."""
    times: Phases = {name: [] for name, _ in phases}
    totals: list[float] = []
    deadline = time.perf_counter() + budget
    while len(totals) < repeat and (len(totals) < 3 or time.perf_counter() < deadline):
        if setup is not None:
            setup()
        gc.collect()
        value: Any = None
        for name, phase in phases:
            start = time.perf_counter()
            value = phase(value)
            times[name].append(time.perf_counter() - start)
        if isinstance(value, Engine):
            value.close()
        totals.append(sum(times[name][-1] for name, _ in phases))
    return Timing.of(totals), {name: Timing.of(t) for name, t in times.items()}


def blocks_phases(
    nodes: Sequence[Member], edges: Sequence[EdgeRecord], library: Library
) -> list[tuple[str, Callable[[Any], Any]]]:
    """flatten → Flat.architecture → a new Engine's first refresh."""
    return [
        ("flatten", lambda _: flatten(nodes, edges, library)),
        ("Flat.architecture", lambda flat: flat.architecture("ResNet-152")),
        ("analyse (Engine + refresh)", full_analysis),
    ]


def affected(flat: Flat) -> list[str]:
    """The flat ids of the c2 convs of every use of the edited block."""
    return [
        node_id
        for node_id, origin in flat.origins.items()
        if origin.node == "c2" and flat.instances[origin.scope].type == EDITED_BLOCK
    ]


def kernel_edit(arch: Architecture, ids: list[str], kernel: int) -> Compound:
    """The flat design's equivalent of the definition's edit: one SetParams per conv."""
    change = {"kernel_size": kernel, "padding": kernel // 2}
    parts: list[Edit] = [SetParams(i, {**arch.node(i).params, **change}) for i in ids]
    return Compound(parts, f"Kernel {kernel}")


# report ---------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def cells(t: Timing | None) -> tuple[str, str]:
    return ("", "") if t is None else (ms(t.median), ms(t.best))


def row(what: str, blocks: Timing | None, flat: Timing | None) -> tuple[str, ...]:
    """One line of the table: the blocks figure beside the flat one, and the runs."""
    runs = "/".join(str(t.runs) for t in (blocks, flat) if t is not None)
    return (what, *cells(blocks), *cells(flat), runs)


def totals_of(engine: Engine) -> tuple[int, int]:
    totals = engine.totals()
    return totals.params, totals.macs


# the three parts ------------------------------------------------------------------------


def bench_full_analysis(rows: list[tuple[str, ...]]) -> tuple[Flat, Library]:
    """Part 1: ResNet-152 from blocks beside the flattened Architecture, cold and warm."""
    nodes, edges = resnet152_top()
    library = resnet_library()
    flat = flatten(nodes, edges, library)
    arch = flat.architecture("ResNet-152")
    engine = full_analysis(arch)
    check_clean(engine, "ResNet-152 of blocks")
    params, macs = totals_of(engine)
    engine.close()
    print(
        f"ResNet-152 of blocks: {len(library)} blocks, {len(nodes)} top-level nodes, "
        f"{len(arch)} flat nodes, {params:,} params, {macs:,} MACs "
        f"(expected: {RESNET152_PARAMS:,} and {RESNET152_MACS:,}, torchvision's 11.514 G)"
    )
    assert (params, macs) == (RESNET152_PARAMS, RESNET152_MACS), "not torchvision's ResNet-152"
    print(f"torch's count of the same network: {torch_counts()}")

    phases = blocks_phases(nodes, edges, library)
    for label, setup in (("layer memo cleared", memo.forget), ("layer memo warm", None)):
        if setup is None:
            full_analysis(arch).close()  # warm the memo
        whole, parts = measure_phases(phases, repeat=30, setup=setup)
        flat_time = measure(lambda: full_analysis(arch).close(), 30, setup, budget=15.0)
        rows.append(row(f"ResNet-152 full analysis, {label}", whole, flat_time))
        rows += [row(f"  - {name}", t, None) for name, t in parts.items()]
    return flat, library


def analyse_phases(phases: Sequence[tuple[str, Callable[[Any], Any]]]) -> Engine:
    """The phases run once, untimed: the engine they end with."""
    value: Any = None
    for _, phase in phases:
        value = phase(value)
    return value


def bench_edit(rows: list[tuple[str, ...]], flat: Flat, library: Library) -> None:
    """Part 2: 3×3 → 5×5 in the plain Bottleneck's definition, beside the same change
    made to each of its flat convs as one Compound edit; 5×5 and 3×3 in turn."""
    nodes, edges = resnet152_top()
    ids = affected(flat)
    kernels = (5, 3)
    grown = 16 * sum(
        width * width * (n - 1) for n, width in zip(RESNET152_LAYERS, (64, 128, 256, 512))
    )  # 5×5 - 3×3 = 16 weights more per input and output channel, in each plain block
    edits = 0

    def next_kernel() -> int:
        nonlocal edits
        edits += 1
        return kernels[(edits - 1) % 2]

    design = ScopedDesign.from_members("ResNet-152", tuple(nodes), tuple(edges), library)
    scope = design.scope(EDITED_BLOCK)

    def edit_definition(_: Any) -> ScopedDesign:
        """What the window does: one SetParams in the block's scope."""
        change = {"kernel_size": next_kernel()}
        change["padding"] = change["kernel_size"] // 2
        SetParams("c2", {**scope.params_of("c2"), **change}).apply(scope)
        return design

    phases = [
        ("SetParams in the block's scope", edit_definition),
        ("library read from the scopes", lambda d: d.library()),
        ("flatten", lambda lib: flatten(members(design.top), design.top.edges(), lib)),
        ("Flat.architecture", lambda f: f.architecture("ResNet-152")),
        ("analyse (Engine + refresh)", full_analysis),
    ]
    # check once that the edit does what it says, on both sides
    edited = analyse_phases(phases)
    blocks_totals = totals_of(edited)
    assert blocks_totals[0] == RESNET152_PARAMS + grown, blocks_totals
    edited.close()
    analyse_phases(phases).close()  # back to 3×3: the next timed run makes it 5×5
    edits = 0
    blocks_time, blocks_parts = measure_phases(phases, repeat=20)

    arch = flat.architecture("ResNet-152 (flat)")
    engine = full_analysis(arch)
    flat_edits = 0
    pending: list[Compound] = []
    flat_parts: Phases = {"Compound.apply": [], "engine.refresh": []}
    changed: list[int] = []

    def prepare() -> None:  # untimed: the flat side's edit is built before its click lands
        nonlocal flat_edits
        flat_edits += 1
        pending[:] = [kernel_edit(arch, ids, kernels[(flat_edits - 1) % 2])]

    def apply_and_refresh() -> None:
        start = time.perf_counter()
        pending[0].apply(arch)
        applied = time.perf_counter()
        changed.append(len(engine.refresh()))
        flat_parts["Compound.apply"].append(applied - start)
        flat_parts["engine.refresh"].append(time.perf_counter() - applied)

    prepare()
    apply_and_refresh()
    check_clean(engine, "ResNet-152 flat, 5×5")
    assert totals_of(engine) == blocks_totals, (totals_of(engine), blocks_totals)
    prepare()
    apply_and_refresh()  # back to 3×3
    assert totals_of(engine) == (RESNET152_PARAMS, RESNET152_MACS)
    for parts in flat_parts.values():
        parts.clear()
    flat_edits = 0
    flat_time = measure(apply_and_refresh, 20, prepare, budget=15.0)
    if flat_edits % 2:  # leave it 3×3
        prepare()
        apply_and_refresh()
    engine.close()

    rows.append(
        row(
            f"edit {EDITED_BLOCK}.c2 3×3↔5×5 ({len(ids)} flat convs; "
            f"flat: ≤{max(changed)} results changed)",
            blocks_time,
            flat_time,
        )
    )
    rows += [row(f"  - {name}", t, None) for name, t in blocks_parts.items()]
    rows += [row(f"  - {name}", None, Timing.of(t)) for name, t in flat_parts.items()]


def bench_window(rows: list[tuple[str, ...]]) -> None:
    """Part 3: MainWindow.open_path of INSTANCES conv-bn-relu instances, painted, beside
    the same design saved flat."""
    from bench_window import check_window, painted, window_in

    nodes, edges, library = conv_block_design()
    flat = flatten(nodes, edges, library)
    arch = flat.architecture(f"{INSTANCES} conv-bn-relu blocks")
    design = BlockDesign(library, tuple(nodes), tuple(edges), flat)
    with tempfile.TemporaryDirectory(prefix="bench_blocks_") as temp:
        folder = Path(temp)
        app, window = window_in(folder)
        with_blocks, plain = folder / "blocks.nnd", folder / "flat.nnd"
        save(with_blocks, arch, None, design)
        save(plain, arch)

        def opener(path: Path) -> Callable[[], None]:
            def run() -> None:
                assert window.open_path(path)
                painted(window)

            return run

        figures: dict[str, tuple[Timing, Timing]] = {}
        for name, path in (("blocks", with_blocks), ("flat", plain)):
            first = measure(opener(path), 5, memo.forget, budget=10.0)
            later = measure(opener(path), 9, budget=10.0)
            figures[name] = (first, later)
            check_window(window)
            document = window.document
            assert document.engine.totals() == Engine(arch).totals(), name
            shown = len(document.arch)  # with blocks: the top level, an instance a node
            assert shown == (len(arch) if name == "flat" else len(design.nodes)), (name, shown)
        window.close()
        app.processEvents()
    what = f"window open_path, {INSTANCES} instances ({len(arch)} flat nodes), painted"
    rows.append(row(f"{what}, memo cleared", figures["blocks"][0], figures["flat"][0]))
    rows.append(row(f"{what}, memo warm", figures["blocks"][1], figures["flat"][1]))


def main() -> None:
    started = time.perf_counter()
    load_before = load()
    print(f"machine: {machine()}")
    rows: list[tuple[str, ...]] = []
    flat, library = bench_full_analysis(rows)
    bench_edit(rows, flat, library)
    bench_window(rows)
    print()
    headers = ("measurement", "blocks median", "min", "flat median", "min", "runs")
    print_table(headers, rows)
    print_footer(started, load_before)


if __name__ == "__main__":
    main()
