"""Blocks (contract 1b): nested and repeated instances against torch twins written here,
instance by instance: parameters, multiply-accumulates (FlopCounterMode counts two FLOPs
each) and output shapes. ResNet-18 and ResNet-50 built from blocks give torchvision's
published totals exactly."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.block_flatten import Flat, Origin, flatten, instance_totals
from designer.core.blocks import BlockDef, BlockError, Instance, Library
from designer.core.graph import EdgeRecord, NodeRecord
from designer.core.propagate import analyse


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


def residual(
    block_id: str, params: dict[str, Any], body: list[NodeRecord], down: list[NodeRecord]
) -> BlockDef:
    """x → body → add ← down (or x itself) → relu: a residual block."""
    ids = [n.id for n in body]
    shortcut = [n.id for n in down]
    nodes = [node("x", "BlockInput"), *body, *down, node("add", "Add"), node("relu", "ReLU")]
    edges = chain("x", *ids) + chain("x", *shortcut) + chain("add", "relu", "y")
    edges += [EdgeRecord(ids[-1], "add", 0), EdgeRecord((shortcut or ["x"])[-1], "add", 1)]
    return BlockDef(block_id, params, [*nodes, node("y", "BlockOutput")], edges)


def basic(block_id: str, projected: bool) -> BlockDef:
    """torchvision's BasicBlock: two 3×3 convs; a projected one strides and has a 1×1 conv
    on its shortcut."""
    params = {"width": 64, "stride": 1} if projected else {"width": 64}
    stride = E("stride") if projected else 1
    body = [
        conv("c1", E("width"), 3, stride),
        node("bn1", "BatchNorm2d"),
        node("relu1", "ReLU"),
        conv("c2", E("width"), 3),
        node("bn2", "BatchNorm2d"),
    ]
    down = [conv("down", E("width"), 1, stride), node("down_bn", "BatchNorm2d")]
    return residual(block_id, params, body, down if projected else [])


def bottleneck(block_id: str, projected: bool, kernel: int = 3) -> BlockDef:
    """torchvision's Bottleneck (stride on the 3×3 conv): 1×1 down to `width`, k×k, 1×1
    up to 4 × width."""
    params = {"width": 64, "stride": 1} if projected else {"width": 64}
    stride = E("stride") if projected else 1
    body = [
        conv("c1", E("width"), 1),
        node("bn1", "BatchNorm2d"),
        node("relu1", "ReLU"),
        conv("c2", E("width"), kernel, stride),
        node("bn2", "BatchNorm2d"),
        node("relu2", "ReLU"),
        conv("c3", E("width * 4"), 1),
        node("bn3", "BatchNorm2d"),
    ]
    down = [conv("down", E("width * 4"), 1, stride), node("down_bn", "BatchNorm2d")]
    return residual(block_id, params, body, down if projected else [])


def stage(block_id: str, first: str, rest: str) -> BlockDef:
    """A projected block, then `depth - 1` plain ones: a ResNet stage (`stage1.first.c2`,
    `stage1.rest.0.c2`, …)."""
    return BlockDef(
        block_id,
        {"width": 64, "stride": 1, "depth": 2},
        [
            node("x", "BlockInput"),
            Instance("first", first, {"width": E("width"), "stride": E("stride")}),
            Instance("rest", rest, {"width": E("width")}, repeat=E("depth - 1")),
            node("y", "BlockOutput"),
        ],
        chain("x", "first", "rest", "y"),
    )


def resnet_library(kernel: int = 3) -> Library:
    return Library(
        [
            basic("Basic", projected=False),
            basic("BasicDown", projected=True),
            bottleneck("Bottleneck", projected=True, kernel=kernel),
            bottleneck("BottleneckId", projected=False, kernel=kernel),
            stage("BasicStage", "BasicDown", "Basic"),
            stage("Stage", "Bottleneck", "BottleneckId"),
        ]
    )


def resnet(stages: Sequence[Instance]) -> tuple[list[NodeRecord | Instance], list[EdgeRecord]]:
    """The stem, the stages one after another, and the classifier: a ResNet's top level."""
    nodes = [
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


RESNET18 = [
    Instance("layer1", "Basic", {"width": 64}, repeat=2),
    Instance("layer2", "BasicStage", {"width": 128, "stride": 2, "depth": 2}),
    Instance("layer3", "BasicStage", {"width": 256, "stride": 2, "depth": 2}),
    Instance("layer4", "BasicStage", {"width": 512, "stride": 2, "depth": 2}),
]
RESNET50 = [
    Instance("stage1", "Stage", {"width": 64, "stride": 1, "depth": 3}),
    Instance("stage2", "Stage", {"width": 128, "stride": 2, "depth": 4}),
    Instance("stage3", "Stage", {"width": 256, "stride": 2, "depth": 6}),
    Instance("stage4", "Stage", {"width": 512, "stride": 2, "depth": 3}),
]


# --- torch twins: modules named as the designer's paths ----------------------------------


class TorchResidual(nn.Module):
    def __init__(self, body: list[tuple[str, nn.Module]], down: nn.Module | None) -> None:
        super().__init__()
        for name, module in body:
            self.add_module(name, module)
        self.names = [name for name, _ in body]
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for name in self.names:
            y = getattr(self, name)(y)
        return torch.relu(y + (x if self.down is None else self.down(x)))


def torch_conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)


def projection(cin: int, cout: int, stride: int) -> nn.Module | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(torch_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))


def torch_basic(cin: int, width: int, stride: int = 1) -> TorchResidual:
    body = [
        ("c1", torch_conv(cin, width, 3, stride)),
        ("bn1", nn.BatchNorm2d(width)),
        ("relu1", nn.ReLU()),
        ("c2", torch_conv(width, width, 3)),
        ("bn2", nn.BatchNorm2d(width)),
    ]
    return TorchResidual(body, projection(cin, width, stride))


def torch_bottleneck(cin: int, width: int, stride: int = 1, kernel: int = 3) -> TorchResidual:
    body = [
        ("c1", torch_conv(cin, width, 1)),
        ("bn1", nn.BatchNorm2d(width)),
        ("relu1", nn.ReLU()),
        ("c2", torch_conv(width, width, kernel, stride)),
        ("bn2", nn.BatchNorm2d(width)),
        ("relu2", nn.ReLU()),
        ("c3", torch_conv(width, 4 * width, 1)),
        ("bn3", nn.BatchNorm2d(4 * width)),
    ]
    return TorchResidual(body, projection(cin, 4 * width, stride))


class TorchStage(nn.Module):
    def __init__(self, first: nn.Module, rest: list[nn.Module]) -> None:
        super().__init__()
        self.first = first
        self.rest = rest[0] if len(rest) == 1 else nn.Sequential(*rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(self.first(x))


class TorchResNet(nn.Module):
    def __init__(self, stages: dict[str, nn.Module], features: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(torch_conv(3, 64, 7, 2), nn.BatchNorm2d(64), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.stages = list(stages)
        for name, module in stages.items():
            self.add_module(name, module)
        self.fc = nn.Linear(features, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stem(x))
        for name in self.stages:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def torch_resnet18() -> TorchResNet:
    def basic_stage(cin: int, width: int) -> TorchStage:
        return TorchStage(torch_basic(cin, width, 2), [torch_basic(width, width)])

    return TorchResNet(
        {
            "layer1": nn.Sequential(torch_basic(64, 64), torch_basic(64, 64)),
            "layer2": basic_stage(64, 128),
            "layer3": basic_stage(128, 256),
            "layer4": basic_stage(256, 512),
        },
        512,
    )


def torch_resnet50(kernel: int = 3) -> TorchResNet:
    """ResNet-50; `kernel` is the middle conv's of the blocks after each stage's first."""

    def bottleneck_stage(cin: int, width: int, stride: int, depth: int) -> TorchStage:
        rest = [torch_bottleneck(4 * width, width, kernel=kernel) for _ in range(depth - 1)]
        return TorchStage(torch_bottleneck(cin, width, stride), rest)

    return TorchResNet(
        {
            "stage1": bottleneck_stage(64, 64, 1, 3),
            "stage2": bottleneck_stage(256, 128, 2, 4),
            "stage3": bottleneck_stage(512, 256, 2, 6),
            "stage4": bottleneck_stage(1024, 512, 2, 3),
        },
        2048,
    )


def torch_figures(model: nn.Module, paths: list[str]) -> dict[str, tuple[int, int, tuple]]:
    """(params, MACs, output shape per sample) of each submodule at `paths`."""
    shapes: dict[str, tuple] = {}
    for path in paths:
        model.get_submodule(path).register_forward_hook(
            lambda m, i, out, path=path: shapes.__setitem__(path, tuple(out.shape[1:]))
        )
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    counts = {name: sum(c.values()) for name, c in counter.get_flop_counts().items()}
    flops = {name.partition(".")[2]: n for name, n in counts.items() if "." in name}
    figures = {}
    for path in paths:
        params = sum(p.numel() for p in model.get_submodule(path).parameters())
        assert flops[path] % 2 == 0
        figures[path] = (params, flops[path] // 2, shapes[path])
    figures[""] = (sum(p.numel() for p in model.parameters()), counts["Global"] // 2, ())
    return figures


def designer_figures(flat: Flat) -> dict[str, tuple[int, int, tuple]]:
    engine = analyse(flat.architecture("resnet"))
    rows = instance_totals(engine, flat)
    for row in rows.values():
        assert row.errors == () and row.totals.errors == 0 and row.totals.blocked == 0
    figures = {
        path: (row.totals.params, row.totals.macs, row.outputs[0].shape)
        for path, row in rows.items()
    }
    totals = engine.totals()
    figures[""] = (totals.params, totals.macs, ())
    return figures


# --- the tests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "twin", "params", "macs"),
    [
        (RESNET18, torch_resnet18, 11_689_512, 1_814_073_344),
        (RESNET50, torch_resnet50, 25_557_032, 4_089_184_256),
    ],
    ids=["resnet18", "resnet50"],
)
def test_resnets_of_blocks_match_their_torch_twins_instance_by_instance(
    stages: list[Instance], twin: Any, params: int, macs: int
) -> None:
    flat = flatten(*resnet(stages), resnet_library())
    ours = designer_figures(flat)
    theirs = torch_figures(twin(), [path for path in ours if path])
    assert ours == theirs
    assert ours[""][:2] == (params, macs)  # torchvision's published totals


def test_paths_name_instances_copies_and_inner_nodes() -> None:
    flat = flatten(*resnet(RESNET50), resnet_library())
    ids = [n.id for n in flat.nodes]
    assert ids[:5] == ["input", "stem", "stem_bn", "stem_relu", "pool"]
    assert ids[5:8] == ["stage1.first.c1", "stage1.first.bn1", "stage1.first.relu1"]
    assert "stage1.rest.0.c2" in ids and "stage1.rest.1.c2" in ids
    assert "stage1.rest.2.c2" not in ids  # depth 3: first, then two copies
    assert "stage3.rest.4.c3" in ids
    assert flat.origins["stage1.rest.1.c2"] == Origin("stage1.rest.1", "c2")
    assert flat.origins["stem"] == Origin("", "stem")
    rest = flat.instances["stage1.rest"]
    assert (rest.type, rest.scope, rest.repeat) == ("BottleneckId", "stage1", 2)
    assert rest.copies == ["stage1.rest.0", "stage1.rest.1"]
    assert flat.instances["stage1.rest.1"].scope == "stage1.rest"
    assert dict(flat.instances["stage2.first"].params) == {"width": 128, "stride": 2}
    paths = list(flat.instances)
    assert paths.index("stage1") < paths.index("stage1.first") < paths.index("stage1.rest")
    # BlockInput and BlockOutput are gone: the stage's input feeds both of its first
    # block's branches, and the copies chain
    edges = set(flat.edges)
    assert EdgeRecord("pool", "stage1.first.c1") in edges
    assert EdgeRecord("pool", "stage1.first.down") in edges
    assert EdgeRecord("stage1.first.relu", "stage1.rest.0.c1") in edges
    assert EdgeRecord("stage1.first.relu", "stage1.rest.0.add", 1) in edges  # identity
    assert EdgeRecord("stage1.rest.0.relu", "stage1.rest.1.c1") in edges
    assert EdgeRecord("stage4.rest.1.relu", "gap") in edges


def test_an_instance_totals_its_copies_and_nested_instances() -> None:
    flat = flatten(*resnet(RESNET50), resnet_library())
    engine = analyse(flat.architecture())
    rows = instance_totals(engine, flat)
    for path, info in flat.instances.items():
        inner = info.copies or [p for p in flat.instances if flat.instances[p].scope == path]
        layers = [m for m in info.members if flat.origins[m].scope == path]
        figures = [rows[p].totals for p in inner] + [engine.results[m] for m in layers]
        assert rows[path].totals.params == sum(f.params for f in figures)
        assert rows[path].totals.macs == sum(f.macs for f in figures)
        assert rows[path].totals.flops == sum(f.flops for f in figures)
        memory = sum(engine.results[m].memory for m in info.members)
        assert rows[path].totals.activation_memory == memory > 0
        assert rows[path].totals.param_memory == 4 * (
            rows[path].totals.params + rows[path].totals.buffers
        )
    assert rows["stage1"].outputs == rows["stage1.rest"].outputs == rows["stage1.rest.1"].outputs
    assert rows["stage1"].outputs[0].shape == (256, 56, 56)


def test_editing_a_definition_changes_every_instance() -> None:
    """A 5×5 middle conv in BottleneckId, the one block edited: each use of it, in every
    stage, grows by width² × 16 params and that times H × W MACs; nothing else changes."""
    library = resnet_library()
    edited = library.replacing(bottleneck("BottleneckId", projected=False, kernel=5))
    before, after = (flatten(*resnet(RESNET50), lib) for lib in (library, edited))
    old = instance_totals(analyse(before.architecture()), before)
    new = instance_totals(analyse(after.architecture()), after)
    assert new.keys() == old.keys()
    for path in after.instances:
        inside = [p for p in after.instances if p == path or p.startswith(path + ".")]
        uses = [after.instances[p] for p in inside if after.instances[p].type == "BottleneckId"]
        grown = [(info.params["width"] ** 2 * 16, new[info.path]) for info in uses]
        once = [(weights, row) for (weights, row), info in zip(grown, uses) if info.repeat == 1]
        assert new[path].totals.params - old[path].totals.params == sum(w for w, _ in once)
        assert new[path].totals.macs - old[path].totals.macs == sum(
            w * row.outputs[0].shape[1] * row.outputs[0].shape[2] for w, row in once
        )
        assert new[path].outputs[0].shape == old[path].outputs[0].shape
    assert new["stage1.first"] == old["stage1.first"]  # a Bottleneck: not edited
    assert new["stage1.rest.0"].totals.params > old["stage1.rest.0"].totals.params
    ours = designer_figures(after)
    assert ours == torch_figures(torch_resnet50(kernel=5), [p for p in ours if p])


def test_blocks_that_hold_themselves_are_refused_naming_them() -> None:
    def holder(block_id: str, held: str) -> BlockDef:
        nodes = [node("x", "BlockInput"), Instance("inner", held), node("y", "BlockOutput")]
        return BlockDef(block_id, {}, nodes, chain("x", "inner", "y"))

    with pytest.raises(BlockError) as refused:
        Library([holder("Outer", "Middle"), holder("Middle", "Inner"), holder("Inner", "Outer")])
    assert refused.value.problems == [
        (
            "blocks may not hold themselves, directly or not: Outer → Middle → Inner → Outer "
            "(Outer.inner is an instance of Middle, Middle.inner is an instance of Inner, "
            "Inner.inner is an instance of Outer)"
        )
    ]
    with pytest.raises(BlockError) as refused:
        Library([holder("Loop", "Loop"), holder("Fine", "Basic"), basic("Basic", False)])
    assert refused.value.problems == [
        "block Loop, inner: a block may not hold an instance of itself"
    ]


def test_an_error_inside_an_instance_names_the_instance_and_its_inner_node() -> None:
    library = resnet_library()
    # the engine's: 64 channels come in, a BottleneckId of width 32 adds 128 to them
    flat = flatten(*resnet([Instance("stage1", "BottleneckId", {"width": 32})]), library)
    engine = analyse(flat.architecture())
    rows = instance_totals(engine, flat)
    error = "stage1.add: Add needs inputs of one shape: port 0 is 128x56x56, port 1 is 64x56x56"
    assert rows["stage1"].errors == (error,)
    assert (rows["stage1"].totals.errors, rows["stage1"].totals.blocked) == (1, 1)
    assert rows["stage1"].outputs == (None,)
    assert engine.results["gap"].blocked_by == "stage1.add"
    # a layer's refusal of what an expression gives
    stages = [Instance("stage1", "Stage", {"width": 0, "depth": 2})]
    with pytest.raises(BlockError) as refused:
        flatten(*resnet(stages), library).architecture()
    assert "stage1.first.c2: out_channels: must be a positive int, got 0" in refused.value.problems
    assert "stage1.rest.c3: out_channels: must be a positive int, got 0" in refused.value.problems
    # an expression's refusal of the params it is given
    stages = [Instance("stage1", "Stage", {"width": "wide", "depth": 2})]
    with pytest.raises(BlockError) as refused:
        flatten(*resnet(stages), library)
    assert refused.value.problems[0] == (
        "stage1.first.c3: out_channels: width * 4: width is 'wide', not an integer"
    )
    stages = [Instance("stage1", "Stage", {"depth": 1})]
    with pytest.raises(BlockError, match="stage1.rest: repeat: must be an int ≥ 1, got 0"):
        flatten(*resnet(stages), library)


def test_definitions_are_checked_together() -> None:
    bad = BlockDef(
        "Bad",
        {"width": 8, "two words": 1, "w": E("1")},
        [
            node("x.y", "ReLU"),
            node("r", "Relu"),
            node("z", "Linear", out_features=E("widht * 2")),
            node("i", "BlockInput", index=1),
            node("o", "BlockOutput"),
            Instance("twice", "Basic", {"width": E("width")}, repeat=2),
            Instance("wide", "Basic", {"widht": 3}),
        ],
        [EdgeRecord("r", "nowhere"), EdgeRecord("i", "i")],
    )
    with pytest.raises(BlockError) as refused:
        Library([basic("Basic", False), bad, BlockDef("relu"), BlockDef("Conv2d")])
    assert refused.value.problems == [
        "block 'relu': a block id is CapWords (letters and digits, a capital first)",
        "block 'Conv2d': Conv2d is a layer type; a block needs another id",
        "block Bad, param 'two words': a param name is a word (letters, digits, _)",
        "block Bad, param 'w': a default is a value, not an expression",
        "block Bad, x.y: an id inside a block may not hold '.', which joins the parts of a path",
        "block Bad, r: unknown layer or block type 'Relu' (did you mean ReLU?)",
        (
            "block Bad, z: out_features: widht * 2: widht is not a param of the block "
            "(did you mean width?) (its params: two words, w, width)"
        ),
        "block Bad, wide: Basic has no param 'widht' (did you mean width?)",
        "block Bad, edge r → nowhere: there is no node 'nowhere'",
        "block Bad, edge i → i: a BlockInput takes no input: it is fed by what feeds the instance",
        "block Bad: the BlockInput indices are 1; they must be 0 to 0, each once",
        "block Bad, o: nothing feeds this BlockOutput",
    ]


def test_a_block_with_several_ports_is_wired_through_them() -> None:
    """Inputs 0 and 1, outputs 0 (their sum), 1 (their concatenation) and 2 (input 0
    passed through): each outer edge reaches the layers behind the port it names."""
    pair = BlockDef(
        "Pair",
        {"scale": 2},
        [
            node("a", "BlockInput"),
            node("b", "BlockInput", index=1),
            node("sum", "Add"),
            node("cat", "Concat", dim=1),
            node("grow", "Conv2d", out_channels=E("scale * 8"), kernel_size=1),
            node("out_sum", "BlockOutput"),
            node("out_cat", "BlockOutput", index=1),
            node("out_a", "BlockOutput", index=2),
        ],
        [
            EdgeRecord("a", "sum", 0),
            EdgeRecord("b", "sum", 1),
            EdgeRecord("a", "cat", 0),
            EdgeRecord("b", "cat", 1),
            EdgeRecord("cat", "grow"),
            EdgeRecord("sum", "out_sum"),
            EdgeRecord("grow", "out_cat"),
            EdgeRecord("a", "out_a"),
        ],
    )
    nodes = [
        node("input", "Input", shape=[8, 4, 4]),
        node("relu", "ReLU"),
        Instance("pair", "Pair", {"scale": 3}),
        node("merge", "Concat", dim=1),
    ]
    edges = [
        EdgeRecord("input", "relu"),
        EdgeRecord("input", "pair", 0),
        EdgeRecord("relu", "pair", 1),
        EdgeRecord("pair", "merge", 0, 0),
        EdgeRecord("pair", "merge", 1, 1),
        EdgeRecord("pair", "merge", 2, 2),
    ]
    flat = flatten(nodes, edges, Library([pair]))
    assert set(flat.edges) == {
        EdgeRecord("input", "relu"),
        EdgeRecord("input", "pair.sum", 0),
        EdgeRecord("relu", "pair.sum", 1),
        EdgeRecord("input", "pair.cat", 0),
        EdgeRecord("relu", "pair.cat", 1),
        EdgeRecord("pair.cat", "pair.grow"),
        EdgeRecord("pair.sum", "merge", 0),
        EdgeRecord("pair.grow", "merge", 1),
        EdgeRecord("input", "merge", 2),
    }
    engine = analyse(flat.architecture())
    row = instance_totals(engine, flat)["pair"]
    assert [t.shape for t in row.outputs] == [(8, 4, 4), (24, 4, 4), (8, 4, 4)]
    grow = nn.Conv2d(16, 24, 1)
    assert row.totals.params == sum(p.numel() for p in grow.parameters())
    assert row.totals.macs == 16 * 24 * 4 * 4
    assert engine.result("merge").shape == (40, 4, 4)
    assert flat.instances["pair"].inputs == (("input", 0), ("relu", 0))


def test_a_repeated_layer_is_a_chain_of_copies() -> None:
    nodes = [
        node("input", "Input", shape=[16]),
        Instance("hidden", "Linear", {"out_features": 16}, repeat=3),
        node("head", "Linear", out_features=4),
    ]
    flat = flatten(nodes, chain("input", "hidden", "head"), Library())
    assert [n.id for n in flat.nodes] == ["input", "hidden.0", "hidden.1", "hidden.2", "head"]
    assert flat.origins["hidden.2"] == Origin("", "hidden", 2)
    assert EdgeRecord("hidden.2", "head") in flat.edges
    engine = analyse(flat.architecture())
    row = instance_totals(engine, flat)["hidden"]
    twin = nn.Sequential(*(nn.Linear(16, 16) for _ in range(3)))
    assert row.totals.params == sum(p.numel() for p in twin.parameters())
    assert row.totals.macs == 3 * 16 * 16
    with pytest.raises(BlockError, match="repeat needs a layer that takes one input; MatMul"):
        flatten([Instance("product", "MatMul", repeat=2)], [], Library())


def test_what_flattening_refuses() -> None:
    library = resnet_library()
    nodes, edges = resnet(RESNET50)
    taken = [*nodes, node("stage1.first.c1", "ReLU")]
    with pytest.raises(BlockError, match="stage1.first.c1: two nodes flatten to this id"):
        flatten(taken, [*edges, EdgeRecord("input", "stage1.first.c1")], library)
    huge = [Instance("stage1", "Stage", {"depth": E("1000 * 1000 * 1000")})]
    with pytest.raises(BlockError, match="flattens to more than 2,000,000 layers"):
        flatten(*resnet(huge), library)
    with pytest.raises(BlockError, match="flattens to more than 100 layers"):
        flatten(*resnet(RESNET50), library, limit=100)
    twice = [Instance("stage1", "Stage", {"depth": 3}, repeat=2)]
    flat = flatten(*resnet(twice), library)  # a repeated instance of a nested block
    assert "stage1.1.rest.1.c3" in flat.origins
    with pytest.raises(BlockError, match="the design, pool: a BlockOutput belongs inside"):
        flatten([node("pool", "BlockOutput")], [], library)
    with pytest.raises(BlockError, match="feeds input 1 of stage1, a Stage with 1 input"):
        flatten(*resnet(RESNET50)[:1], [EdgeRecord("pool", "stage1", 1)], library)


def test_blocks_come_in_the_order_they_can_be_defined_and_nest_boundedly() -> None:
    library = Library(
        [
            stage("Stage", "Bottleneck", "BottleneckId"),
            bottleneck("BottleneckId", projected=False),
            bottleneck("Bottleneck", projected=True),
        ]
    )
    assert library.order() == ["BottleneckId", "Bottleneck", "Stage"]

    def wrapper(level: int) -> BlockDef:
        inner = Instance("inner", f"Level{level - 1}") if level else node("inner", "ReLU")
        nodes = [node("x", "BlockInput"), inner, node("y", "BlockOutput")]
        return BlockDef(f"Level{level}", {}, nodes, chain("x", "inner", "y"))

    deep = Library(wrapper(level) for level in range(32))  # 32 deep: the most there may be
    assert deep.order()[:2] == ["Level0", "Level1"]
    top = [node("input", "Input", shape=[4]), Instance("deep", "Level31")]
    flat = flatten(top, chain("input", "deep"), deep)
    assert [n.id for n in flat.nodes][1] == "deep" + ".inner" * 32
    with pytest.raises(BlockError, match="blocks nest 33 deep; at most 32"):
        Library(wrapper(level) for level in range(33))
