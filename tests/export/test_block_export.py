"""Export of designs with blocks: a class per block, built from its params, that ruff,
torch.fx, TorchScript and verify accept, with torch's module paths the flat design's ids
and torch's counts the designer's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.block_flatten import Flat, flatten
from designer.core.blocks import BlockDef, Instance, Library, Member
from designer.core.graph import EdgeRecord, NodeRecord
from designer.core.propagate import Engine, analyse
from designer.export.block_export import export_blocks
from designer.export.pytorch import ExportedModule, ExportError
from designer.export.verify import verify
from tests.core.test_blocks import (
    RESNET18,
    RESNET50,
    E,
    bottleneck,
    chain,
    conv,
    node,
    resnet,
    resnet_library,
    stage,
)
from tests.export.test_pytorch_export import load_module, ruff_clean


def exported(
    nodes: list[Member], edges: list[EdgeRecord], library: Library, name: str
) -> tuple[ExportedModule, Flat, Engine]:
    flat = flatten(nodes, edges, library)
    engine = analyse(flat.architecture(name))
    return export_blocks(nodes, edges, library, engine, flat), flat, engine


def accepted(source: ExportedModule, flat: Flat, engine: Engine, tmp_path: Path) -> nn.Module:
    """The export passes ruff, torch.fx, TorchScript and verify; torch counts the
    designer's parameters; every module path is its layer's flat id (or the path the
    export says, where Python reserves the id)."""
    ruff_clean(source.source, tmp_path)
    model = load_module(source.source, source.class_name)
    torch.fx.symbolic_trace(model)
    torch.jit.script(model)
    assert sum(p.numel() for p in model.parameters()) == engine.totals().params
    assert verify(source, flat.architecture(), engine) == []
    modules = dict(model.named_modules())
    for node_id, path in source.module_paths.items():
        assert path in modules, node_id
    return model


def classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn\.Module\):$", source, re.MULTILINE)


def test_resnet50_of_blocks_exports_as_torchvision_writes_it(tmp_path: Path) -> None:
    library = Library(
        [
            bottleneck("Bottleneck", projected=True),
            bottleneck("BottleneckId", projected=False),
            stage("Stage", "Bottleneck", "BottleneckId"),
        ]
    )
    source, flat, engine = exported(*resnet(RESNET50), library, "ResNet50")
    text = source.source
    assert classes(text) == ["Bottleneck", "BottleneckId", "Stage", "ResNet50"]
    assert len(text.splitlines()) < 220
    # the block's params, their expressions, and what each layer takes from its input:
    # an expression of the params where one gives it in every use, else an argument
    assert (
        "    def __init__(self, in_channels: int, width: int = 64, stride: int = 1) -> None:"
        in text
    )
    assert "        self.c1 = nn.Conv2d(width * 4, width, kernel_size=1, bias=False)\n" in text
    assert "        self.c3 = nn.Conv2d(width, width * 4, kernel_size=1, bias=False)\n" in text
    assert "        self.bn3 = nn.BatchNorm2d(width * 4)\n" in text
    assert "        self.first = Bottleneck(in_channels, width=width, stride=stride)\n" in text
    assert (
        "        self.rest = nn.Sequential(\n"
        "            *[BottleneckId(width=width) for _ in range(depth - 1)]\n"
        "        )\n"
    ) in text
    assert "        self.stage1 = Stage(64, depth=3)\n" in text
    assert "        self.stage2 = Stage(256, width=128, stride=2, depth=4)\n" in text
    assert "        add = bn3 + x\n" in text
    model = accepted(source, flat, engine, tmp_path)
    layers = {n.id for n in flat.nodes if n.type in ("Conv2d", "BatchNorm2d", "Linear")}
    weighted = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
    assert {p for p, m in model.named_modules() if isinstance(m, weighted)} == layers
    assert source.module_paths["stage1.rest.0.c2"] == "stage1.rest.0.c2"
    assert sum(p.numel() for p in model.parameters()) == 25_557_032
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() // 2 == 4_089_184_256
    assert out.shape == (1, 1000)


def test_resnet18_of_blocks_keeps_a_single_copy_unnumbered(tmp_path: Path) -> None:
    """BasicStage's `rest` repeats `depth - 1` times, once in ResNet-18: the design calls
    its layers layer2.rest.c1, so the copies go through `chain`, which keeps one alone."""
    source, flat, engine = exported(*resnet(RESNET18), resnet_library(), "ResNet18")
    text = source.source
    assert classes(text) == ["Basic", "BasicDown", "BasicStage", "ResNet18"]
    assert "        self.layer1 = nn.Sequential(Basic(), Basic())\n" in text
    assert "        self.rest = chain(*[Basic(width=width) for _ in range(depth - 1)])\n" in text
    assert (
        "        self.c1 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)\n" in text
    )
    model = accepted(source, flat, engine, tmp_path)
    assert "layer2.rest.c1" in flat.origins
    assert source.module_paths["layer2.rest.c1"] == "layer2.rest.c1"
    assert source.module_paths["layer1.1.c2"] == "layer1.1.c2"
    assert sum(p.numel() for p in model.parameters()) == 11_689_512


def pair() -> BlockDef:
    """Two inputs, two outputs: their sum, and their concatenation through a 1×1 conv."""
    return BlockDef(
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
        ],
        [
            EdgeRecord("a", "sum", 0),
            EdgeRecord("b", "sum", 1),
            EdgeRecord("a", "cat", 0),
            EdgeRecord("b", "cat", 1),
            EdgeRecord("cat", "grow"),
            EdgeRecord("sum", "out_sum"),
            EdgeRecord("grow", "out_cat"),
        ],
    )


def unit() -> BlockDef:
    """conv → batch norm → ReLU, `width` channels out."""
    nodes = [
        node("x", "BlockInput"),
        conv("conv", E("width"), 3),
        node("bn", "BatchNorm2d"),
        node("relu", "ReLU"),
        node("y", "BlockOutput"),
    ]
    return BlockDef("Unit", {"width": 8}, nodes, chain("x", "conv", "bn", "relu", "y"))


def mixer() -> BlockDef:
    """A block of blocks: a Pair of its input and its ReLU, both outputs concatenated,
    then `depth` Units."""
    return BlockDef(
        "Mixer",
        {"scale": 2, "depth": 2},
        [
            node("x", "BlockInput"),
            node("relu", "ReLU"),
            Instance("pair", "Pair", {"scale": E("scale")}),
            node("merge", "Concat", dim=1),
            Instance("mix", "Unit", {"width": E("scale * 8")}, repeat=E("depth")),
            node("y", "BlockOutput"),
        ],
        [
            EdgeRecord("x", "relu"),
            EdgeRecord("x", "pair", 0),
            EdgeRecord("relu", "pair", 1),
            EdgeRecord("pair", "merge", 0, 0),
            EdgeRecord("pair", "merge", 1, 1),
            EdgeRecord("merge", "mix"),
            EdgeRecord("mix", "y"),
        ],
    )


def test_nested_blocks_with_two_inputs_and_outputs(tmp_path: Path) -> None:
    nodes = [
        node("input", "Input", shape=[8, 6, 6]),
        Instance("mixer1", "Mixer", {"scale": 1}),
        Instance("mixer2", "Mixer", {"depth": 3}),
        Instance("mixer3", "Mixer", {"scale": 1, "depth": 1}),
    ]
    edges = chain("input", "mixer1", "mixer2", "mixer3")
    library = Library([mixer(), pair(), unit()])
    source, flat, engine = exported(nodes, edges, library, "Mixers")
    text = source.source
    assert classes(text) == ["Pair", "Unit", "Mixer", "Mixers"]
    assert (
        "    def forward(\n"
        "        self, a: torch.Tensor, b: torch.Tensor\n"
        "    ) -> tuple[torch.Tensor, torch.Tensor]:\n"
    ) in text
    assert "        return (sum_, grow)\n" in text
    # Pair's conv reads a concatenation: its channels are an argument named for it
    assert "    def __init__(self, grow_in_channels: int, scale: int = 2) -> None:" in text
    assert "        self.pair = Pair(grow_in_channels, scale=scale)\n" in text
    assert "        pair_out_sum, pair_out_cat = self.pair(x, relu)\n" in text
    # the first Unit reads the concatenation, the others the Unit before: `width` each
    assert (
        "        self.mix = chain(\n"
        "            Unit(mix_in_channels, width=scale * 8),\n"
        "            *[Unit(scale * 8, width=scale * 8) for _ in range(depth - 1)],\n"
        "        )\n"
    ) in text
    assert "        self.mixer2 = Mixer(16, 24, depth=3)\n" in text
    model = accepted(source, flat, engine, tmp_path)
    assert source.module_paths["mixer2.mix.2.conv"] == "mixer2.mix.2.conv"
    assert source.module_paths["mixer3.mix.conv"] == "mixer3.mix.conv"  # one Unit: no number
    assert source.module_paths["mixer1.pair.grow"] == "mixer1.pair.grow"
    out = model(torch.zeros(2, 8, 6, 6))
    assert out.shape == (2, *engine.results["mixer3.mix.relu"].shape) == (2, 8, 6, 6)


def conv_block(**params: Any) -> BlockDef:
    """A conv whose channels, kernel, padding and bias come from the block's params: a
    bool passed bare, and params that Python reserves (`nn`) or nn.Module has (`forward`)."""
    nodes = [
        node("x", "BlockInput"),
        node(
            "forward",
            "Conv2d",
            out_channels=E("width * nn"),
            kernel_size=E("k"),
            padding=E("k // 2"),
            bias=E("bias"),
        ),
        node("relu", "ReLU"),
        node("y", "BlockOutput"),
    ]
    return BlockDef("ConvBlock", params, nodes, chain("x", "forward", "relu", "y"))


def test_params_in_expressions_and_passed_bare(tmp_path: Path) -> None:
    nodes = [
        node("input", "Input", shape=[3, 16, 16]),
        Instance("a", "ConvBlock", {"bias": True}),
        Instance("b", "ConvBlock", {"width": 4, "k": 5}),
        node("gap", "AdaptiveAvgPool2d", output_size=1),
        node("flat", "Flatten"),
        Instance("hidden", "Linear", {"out_features": 16}, repeat=4),
        node("head", "Linear", out_features=3),
    ]
    library = Library([conv_block(width=8, bias=False, k=3, nn=2)])
    source, flat, engine = exported(nodes, chain(*(n.id for n in nodes)), library, "Convs")
    text = source.source
    assert (
        "    def __init__(\n"
        "        self,\n"
        "        in_channels: int,\n"
        "        width: int = 8,\n"
        "        bias: bool = False,\n"
        "        k: int = 3,\n"
        "        nn_: int = 2,\n"
        "    ) -> None:\n"
    ) in text
    assert (
        "        self.forward_ = nn.Conv2d(\n"
        "            in_channels, width * nn_, kernel_size=k, padding=k // 2, bias=bias\n"
        "        )\n"
    ) in text
    assert "        self.a = ConvBlock(3, bias=True)\n" in text
    assert "        self.b = ConvBlock(16, width=4, k=5)\n" in text
    assert (
        "        self.hidden = nn.Sequential(\n"
        "            nn.Linear(8, 16), *[nn.Linear(16, 16) for _ in range(3)]\n"
        "        )\n"
    ) in text
    model = accepted(source, flat, engine, tmp_path)
    assert source.module_paths["b.forward"] == "b.forward_"
    assert source.module_paths["hidden.3"] == "hidden.3"
    assert model.get_submodule("a.forward_").bias is not None
    assert model.get_submodule("b.forward_").bias is None
    assert model.get_submodule("b.forward_").kernel_size == (5, 5)


def test_an_operation_written_otherwise_in_two_uses_is_refused() -> None:
    """Forward writes an operation's arguments as values: a block whose uses need two is
    refused, naming them."""
    scale = BlockDef(
        "Scale",
        {"factor": 2},
        [
            node("x", "BlockInput"),
            node("mul", "Multiply", other=E("factor")),
            node("y", "BlockOutput"),
        ],
        chain("x", "mul", "y"),
    )
    nodes = [
        node("input", "Input", shape=[4]),
        Instance("twice", "Scale"),
        Instance("thrice", "Scale", {"factor": 3}),
    ]
    flat = flatten(nodes, chain("input", "twice", "thrice"), Library([scale]))
    engine = analyse(flat.architecture())
    with pytest.raises(ExportError) as refused:
        export_blocks(nodes, chain("input", "twice", "thrice"), Library([scale]), engine, flat)
    assert refused.value.problems == [
        (
            "block Scale, mul: is x * 2.0 in twice.mul but x * 3.0 in thrice.mul; "
            "one class cannot write both"
        )
    ]


def recur() -> BlockDef:
    """A learned token before the sequence, one Linear called twice, and an LSTM whose
    output and h_n are the block's two outputs."""
    nodes = [
        node("x", "BlockInput"),
        node("token", "Parameter", shape=[1, 8]),
        node("cat", "Concat", dim=1),
        node("proj", "Linear", out_features=E("hidden")),
        NodeRecord("again", "Linear", {"out_features": E("hidden")}, shares="proj"),
        node("lstm", "LSTM", hidden_size=E("hidden"), batch_first=True),
        node("y", "BlockOutput"),
        node("h", "BlockOutput", index=1),
    ]
    edges = [
        EdgeRecord("token", "cat", 0),
        EdgeRecord("x", "cat", 1),
        *chain("cat", "proj", "again", "lstm", "y"),
        EdgeRecord("lstm", "h", 0, 1),
    ]
    return BlockDef("Recur", {"hidden": 8}, nodes, edges)


def test_a_block_with_a_learned_tensor_a_shared_layer_and_several_outputs(
    tmp_path: Path,
) -> None:
    nodes = [
        node("input", "Input", shape=[5, 8]),
        Instance("first", "Recur"),
        Instance("second", "Recur"),
    ]
    edges = chain("input", "first", "second")
    source, flat, engine = exported(nodes, edges, Library([recur()]), "Recurrent")
    text = source.source
    assert "        self.token = nn.Parameter(torch.zeros(1, 1, 8))\n" in text
    assert "        token = self.token.expand(x.shape[0], -1, -1)\n" in text
    assert "        again = self.proj(proj)\n" in text  # one module, called twice
    assert "        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)\n" in text
    assert "        lstm_output, (lstm_h_n, _) = self.lstm(again)\n" in text
    assert "        first_y, _ = self.first(x)\n" in text
    model = accepted(source, flat, engine, tmp_path)
    assert source.module_paths["second.again"] == source.module_paths["second.proj"]
    assert (source.calls["second.proj"], source.calls["second.again"]) == (0, 1)
    outputs = model(torch.zeros(2, 5, 8))
    assert [tuple(o.shape) for o in outputs] == [(2, 7, 8), (1, 2, 8)]
