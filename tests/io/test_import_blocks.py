"""Import keeps the user's structure (issue 10, item 5): a user's nn.Module class used more
than once becomes blocks, whose flattening is exactly the flat import, so every number
stays the same; ResNet-50 written as torchvision writes it imports as a few blocks and
exports as a class per block."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from designer.cli import main
from designer.core.blocks import Instance
from designer.core.graph import Architecture
from designer.core.propagate import analyse
from designer.export.block_export import export_blocks
from designer.export.verify import verify
from designer.io import pytorch_import
from designer.io.project import Project, dumps, load, loads
from tests.export.test_pytorch_export import load_module, ruff_clean
from tests.io import real_models, torch_models
from tests.io.models import block_models

MODELS = Path(block_models.__file__)
RESNET50 = (25_557_032, 4_089_184_256)


def imported(class_name: str, shape: tuple[int, ...], **options) -> tuple[Project, Architecture]:
    """The project with blocks, and the flat import of the same model."""
    project = pytorch_import.import_project(MODELS, class_name, [shape], **options)
    return project, pytorch_import.import_model(MODELS, class_name, [shape])


def figures(arch: Architecture) -> tuple[int, int, list[tuple[int, ...]]]:
    """Params, MACs and the output shapes: what blocks must leave as they were."""
    engine = analyse(arch)
    totals = engine.totals()
    shapes = [t.shape for node in arch.outputs() for t in engine.results[node].outputs]
    return totals.params, totals.macs, shapes


def classes(source: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn\.Module\):$", source, re.MULTILINE)


def test_resnet50_imports_as_two_bottleneck_blocks() -> None:
    project, flat = imported("ResNet50", (3, 224, 224))
    design = project.blocks
    assert design is not None
    assert [b.id for b in design.library] == ["BottleneckDownsample", "Bottleneck"]
    assert len(flat) > 170 and len(design.nodes) == 16
    assert figures(project.arch) == figures(flat)
    assert figures(project.arch)[:2] == RESNET50
    # the constructor's values are the blocks' params: the width, the stride
    first = design.library["BottleneckDownsample"]
    assert dict(first.params) == {"out_channels": 64, "stride": 1}
    conv3 = next(n for n in first.nodes if n.id == "conv3")
    assert conv3.params["out_channels"] == {"expr": "out_channels * 4"}
    instances = [m for m in design.nodes if isinstance(m, Instance)]
    assert [(m.id, m.type, dict(m.params), m.repeat) for m in instances] == [
        ("layer1_0", "BottleneckDownsample", {"out_channels": 64, "stride": 1}, 1),
        ("layer1_1", "Bottleneck", {"out_channels": 64}, 2),
        ("layer2_0", "BottleneckDownsample", {"out_channels": 128, "stride": 2}, 1),
        ("layer2_1", "Bottleneck", {"out_channels": 128}, 3),
        ("layer3_0", "BottleneckDownsample", {"out_channels": 256, "stride": 2}, 1),
        ("layer3_1", "Bottleneck", {"out_channels": 256}, 5),
        ("layer4_0", "BottleneckDownsample", {"out_channels": 512, "stride": 2}, 1),
        ("layer4_1", "Bottleneck", {"out_channels": 512}, 2),
    ]
    assert "layer3_1.4.conv2" in project.arch
    text = dumps(project.arch, blocks=design)
    assert figures(loads(text).arch) == figures(flat)


def test_the_command_imports_resnet50_with_blocks_that_export_as_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    design, table, code = tmp_path / "r50.nnd", tmp_path / "r50.json", tmp_path / "r50.py"
    model = f"{MODELS}:ResNet50"
    assert main(["import", model, "--input", "3x224x224", "-o", str(design)]) == 0
    project = load(design)
    assert project.blocks is not None
    assert len(project.blocks.library) <= 4 and len(project.blocks.nodes) <= 20
    assert main(["report", str(design), "--format", "json", "-o", str(table)]) == 0
    totals = json.loads(table.read_text())["totals"]
    assert (totals["params"], totals["macs"]) == RESNET50
    capsys.readouterr()
    assert main(["export", str(design), "-o", str(code), "--verify"]) == 0
    assert "verified: torch agrees on every node of ResNet50" in capsys.readouterr().out
    source = code.read_text()
    assert classes(source) == ["BottleneckDownsample", "Bottleneck", "ResNet50"]
    assert len(source.splitlines()) < 220
    assert "        self.layer3_1 = nn.Sequential(*[Bottleneck(out_channels=256) for _ in" in (
        source
    )
    ruff_clean(source, tmp_path)
    rebuilt = load_module(source, "ResNet50")
    assert sum(p.numel() for p in rebuilt.parameters()) == RESNET50[0]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        assert rebuilt(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert counter.get_total_flops() // 2 == RESNET50[1]


def test_flat_keeps_every_layer_at_the_top(tmp_path: Path) -> None:
    out = tmp_path / "flat.nnd"
    argv = ["import", f"{MODELS}:ResNet18", "--input", "3x64x64", "--flat", "-o", str(out)]
    assert main(argv) == 0
    assert "blocks" not in json.loads(out.read_text())
    project, flat = imported("ResNet18", (3, 64, 64), flat=True)
    assert project.blocks is None
    assert [n.id for n in load(out).arch.nodes()] == [n.id for n in flat.nodes()]
    assert [n.id for n in project.arch.nodes()] == [n.id for n in flat.nodes()]


def test_a_class_used_once_stays_flat() -> None:
    project, flat = imported("UsedOnce", (3, 16, 16))
    assert project.blocks is None
    assert [n.id for n in project.arch.nodes()] == [n.id for n in flat.nodes()]


def test_a_class_used_with_other_channel_counts_is_one_block_with_params() -> None:
    project, flat = imported("UsedTwice", (3, 16, 16))
    design = project.blocks
    assert design is not None
    (unit,) = design.library
    assert (unit.id, dict(unit.params)) == ("ConvUnit", {"out_channels": 16, "stride": 1})
    conv = next(n for n in unit.nodes if n.type == "Conv2d")
    assert conv.params == {
        "out_channels": {"expr": "out_channels"},
        "kernel_size": 3,
        "stride": {"expr": "stride"},
        "padding": 1,
    }
    assert [(m.id, m.type, dict(m.params)) for m in design.nodes if m.type == "ConvUnit"] == [
        ("first", "ConvUnit", {"out_channels": 16, "stride": 1}),
        ("second", "ConvUnit", {"out_channels": 32, "stride": 2}),
    ]
    assert figures(project.arch) == figures(flat)
    assert project.arch.params_of("second.conv") == {
        "out_channels": 32,
        "kernel_size": 3,
        "stride": 2,
        "padding": 1,
    }


def test_a_class_around_a_custom_node_stays_flat() -> None:
    """Shifted holds torch.roll, a Custom node: its two uses stay flat, while ConvUnit,
    used twice alike, is one instance repeated."""
    project, flat = imported("ShiftedTwice", (3, 16, 16))
    design = project.blocks
    assert design is not None
    assert [b.id for b in design.library] == ["ConvUnit"]
    top = {m.id: m for m in design.nodes}
    assert [top[n].type for n in ("a_conv", "roll", "b_conv", "roll_1")] == [
        "Conv2d",
        "Custom",
        "Conv2d",
        "Custom",
    ]
    assert (top["tail"].type, top["tail"].repeat) == ("ConvUnit", 2)
    assert figures(project.arch) == figures(flat)


@pytest.mark.parametrize(
    ("module", "class_name", "shape", "blocks"),
    [
        (real_models, "VisionTransformer", (3, 32, 32), ["Attention", "Block"]),
        (real_models, "MBConv", (16, 16, 16), ["Conv2dNormActivation", "Conv2dNormActivation2"]),
        (real_models, "ConvNeXtStage", (3, 32, 32), ["LayerNorm2d", "CNBlock"]),
        (
            torch_models,
            "ResNetStack",
            (3, 64, 64),
            ["BasicBlock", "BasicBlockDownsample", "Bottleneck", "Bottleneck2"],
        ),
        (torch_models, "UNet", (1, 32, 32), []),
    ],
)
def test_models_as_projects_write_them_keep_their_numbers_and_export(
    module, class_name: str, shape: tuple[int, ...], blocks: list[str]
) -> None:
    """Blocks inside blocks (a ViT's Attention in its Block), one class of two structures,
    helpers that return nn.Sequential (no blocks): the numbers are the flat import's,
    the file reads back, and the export verifies."""
    path = Path(module.__file__)
    project = pytorch_import.import_project(path, class_name, [shape])
    assert figures(project.arch) == figures(pytorch_import.import_model(path, class_name, [shape]))
    design = project.blocks
    assert ([b.id for b in design.library] if design else []) == blocks
    if design is None:
        return
    back = loads(dumps(project.arch, blocks=design))
    engine = analyse(back.arch)
    assert back.blocks is not None and figures(back.arch) == figures(project.arch)
    design = back.blocks
    exported = export_blocks(design.nodes, design.edges, design.library, engine, design.flat)
    assert verify(exported, back.arch, engine) == []


def test_the_vit_block_holds_its_attention_block() -> None:
    path = Path(real_models.__file__)
    design = pytorch_import.import_project(path, "VisionTransformer", [(3, 32, 32)]).blocks
    assert design is not None
    inner = {m.id: m.type for m in design.library["Block"].nodes}
    assert inner["attn"] == "Attention"
    (stack,) = [m for m in design.nodes if m.type == "Block"]
    assert stack.repeat == 2
