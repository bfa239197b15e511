"""Import from PyTorch: the imported design's numbers are torch's, node by node."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from designer.cli import main
from designer.core.graph import Architecture
from designer.core.propagate import analyse
from designer.export.pytorch import export
from designer.export.report import report_order
from designer.io import pytorch_import
from designer.io.project import load
from tests.conftest import WORKING_EXAMPLES
from tests.io import torch_models

MODELS = Path(torch_models.__file__)

CASES = [
    ("LeNet5", [(1, 32, 32)], {}),
    ("ResNetStack", [(3, 64, 64)], {"classes": 7}),
    ("Inception", [(256, 28, 28)], {}),
    ("UNet", [(1, 32, 32)], {}),
    ("ESPCN", [(1, 24, 24)], {}),
    ("SqueezeExcite", [(32, 16, 16)], {}),
]


@pytest.mark.parametrize(("class_name", "shapes", "arguments"), CASES, ids=[c[0] for c in CASES])
def test_imported_numbers_are_torchs(class_name: str, shapes: list, arguments: dict) -> None:
    arch = pytorch_import.import_model(MODELS, class_name, shapes, arguments)
    engine = analyse(arch)
    model = getattr(torch_models, class_name)(**arguments).eval()
    module_outputs: dict[str, list[tuple]] = {}  # a module called twice (ReLU) shows twice
    for path, module in model.named_modules():
        if path and not list(module.children()):
            module.register_forward_hook(
                lambda m, i, o, path=path: (
                    module_outputs.setdefault(path, []).append(tuple(o.shape[1:])) and None
                )
            )
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        output = model(*(torch.zeros(1, *s) for s in shapes))
    totals = engine.totals()
    assert totals.errors == 0
    assert totals.params == sum(p.numel() for p in model.parameters())
    assert 2 * totals.macs == counter.get_total_flops()
    sinks = [n.id for n in arch.nodes() if arch.graph.out_degree(n.id) == 0]
    assert [engine.results[s].shape for s in sinks] == [tuple(output.shape[1:])]
    checked = 0
    for node in arch.nodes():
        path = node.name or node.id
        if path in module_outputs:
            assert engine.results[node.id].shape in module_outputs[path], path
            checked += 1
    assert checked >= 3
    assert all(node.pos is not None for node in arch.nodes())


def test_submodule_paths_become_names() -> None:
    arch = pytorch_import.import_model(MODELS, "ResNetStack", [(3, 64, 64)])
    names = {n.name or n.id for n in arch.nodes()}
    assert {"stem.0", "layer1.1.downsample.0", "layer2.0.conv3", "fc"} <= names


def test_a_channel_count_written_in_code_is_checked(tmp_path: Path) -> None:
    """seed-cases.md: a template written for 1 channel and fed 3×32×32."""
    model = tmp_path / "template.py"
    model.write_text(
        "import torch.nn as nn\n\n\n"
        "class Template(nn.Sequential):\n"
        "    def __init__(self):\n"
        "        super().__init__(nn.Conv2d(1, 20, 5), nn.ReLU(), nn.Conv2d(20, 64, 5), nn.ReLU(),\n"
        "                         nn.Conv2d(64, 20, 5), nn.ReLU(), nn.Conv2d(20, 3, 5), nn.ReLU())\n"
    )
    arch = pytorch_import.import_model(model, "Template", [(3, 32, 32)])
    results = analyse(arch).results
    assert results["_0"].error == "in_channels is 1 in the design, but the input has 3"
    right = pytorch_import.import_model(model, "Template", [(1, 32, 32)])
    assert all("in_channels" not in n.params for n in right.nodes())
    assert analyse(right).results["_7"].shape == (3, 16, 16)


def test_what_the_catalog_cannot_express_stops_the_import(tmp_path: Path, capsys) -> None:
    """A constant tensor (a buffer) has no place in a design: the import stops, naming the
    line and the buffer, and writes nothing."""
    message = (
        r"torch_models.py line \d+ \(return self.conv\(x\) \+ self.offset\): uses offset, "
        r"a buffer \(a constant tensor, not a parameter\)"
    )
    with pytest.raises(pytorch_import.Unsupported, match=message):
        pytorch_import.import_model(MODELS, "WithBuffer", [(3, 16, 16)])
    out = tmp_path / "out.nnd"
    assert main(["import", f"{MODELS}:WithBuffer", "--input", "3x16x16", "-o", str(out)]) == 2
    assert not out.exists()
    assert "nothing written" in capsys.readouterr().err


def test_an_lstm_fed_a_feature_map_imports_and_shows_the_mistake() -> None:
    """LSTM is in the catalog: the design is imported, and the LSTM node refuses the 4-D
    feature map as torch's own forward does, saying what to do."""
    arch = pytorch_import.import_model(MODELS, "WithLSTM", [(3, 16, 16)])
    result = analyse(arch).results["lstm"]
    assert result.error == (
        "LSTM takes a sequence L×H_in per sample, got 4x14x14 (3-D); "
        "Flatten the features of each step into one dimension"
    )
    model = torch_models.WithLSTM().eval()
    with pytest.raises(ValueError, match="2D or 3D"):
        model(torch.zeros(2, 3, 16, 16))


def test_an_operation_the_catalog_lacks_becomes_a_custom_node() -> None:
    """torch.topk has no layer type: a Custom node keeps the call and torch's shape."""
    arch = pytorch_import.import_model(MODELS, "WithTopK", [(3, 16, 16)])
    assert arch.type_of("topk") == "Custom"
    assert "torch.topk" in arch.params_of("topk")["code"]
    assert analyse(arch).results["topk"].shape == (4, 14, 2)


def test_the_command_writes_a_project(tmp_path: Path) -> None:
    out = tmp_path / "resnet.nnd"
    status = main(
        [
            "import",
            f"{MODELS}:ResNetStack",
            "--input",
            "3x64x64",
            "--args",
            '{"classes": 5}',
            "-o",
            str(out),
        ]
    )
    assert status == 0
    assert analyse(load(out).arch).results["fc"].shape == (5,)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nowhere.py:Net", "--input", "3x8x8"], "cannot read nowhere.py"),
        ([f"{MODELS}:Missing", "--input", "3x8x8"], "defines no class 'Missing'"),
        ([f"{MODELS}:LeNet5", "--input", "3xx8"], "write a shape like 3x224x224"),
        (
            [f"{MODELS}:LeNet5", "--input", "1x32x32", "--args", "[1]"],
            "--args must be a JSON object",
        ),
        (
            [f"{MODELS}:LeNet5", "--input", "1x32x32", "--input", "1x32x32"],
            "takes 1 input(s), but 2",
        ),
    ],
)
def test_unusable_requests_exit_1(argv: list, message: str, tmp_path: Path, capsys) -> None:
    assert main(["import", *argv, "-o", str(tmp_path / "o.nnd")]) == 1
    assert message in capsys.readouterr().err


def _canonical(arch: Architecture) -> tuple:
    """The graph with ids replaced by report order, tuples of equal values collapsed."""
    engine = analyse(arch)
    order = report_order(engine)
    index = {node_id: i for i, node_id in enumerate(order)}
    nodes = []
    for node_id in order:
        spec = arch.spec(node_id)
        params = {
            k: (v[0] if isinstance(v, tuple) and len(set(v)) == 1 and k != "shape" else v)
            for k, v in arch.resolved_params(node_id).items()
        }
        result = engine.results[node_id]
        nodes.append((spec.name, params, result.shape, result.params, result.macs, result.fields))
    edges = sorted((index[e.source], index[e.target], e.port) for e in arch.edges())
    return nodes, edges


@pytest.mark.parametrize("path", WORKING_EXAMPLES, ids=lambda p: p.stem)
def test_export_then_import_gives_the_same_design(path: Path, tmp_path: Path) -> None:
    arch = load(path).arch
    exported = export(arch, analyse(arch))
    source = tmp_path / "exported.py"
    source.write_text(exported.source)
    back = pytorch_import.import_model(source, exported.class_name, exported.input_shapes)
    assert _canonical(back) == _canonical(arch)
