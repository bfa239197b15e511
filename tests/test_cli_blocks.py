"""The `designer` command on a design with blocks (contract 1b, 2, 3): a report row per
instance (its totals), `--expand` for the rows inside, check and errors by path, and an
export with a class per block."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from designer.cli import main
from designer.export.report import COLUMNS, EXTRA_COLUMNS
from designer.io.project import load
from tests.conftest import EXAMPLES

RESNET50 = EXAMPLES / "resnet50-blocks.nnd"
TOP_LEVEL = ["input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
TOP_LEVEL += ["avgpool", "flatten", "fc"]


def csv_rows(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    header, *rows = csv.reader(io.StringIO(capsys.readouterr().out))
    assert header == list(COLUMNS + EXTRA_COLUMNS)
    return [dict(zip(header, row)) for row in rows]


@pytest.fixture
def mismatched(tmp_path: Path) -> Path:
    """The example with an identity block fed 64 channels that it adds to 128."""
    doc = json.loads(RESNET50.read_text(encoding="utf-8"))
    doc["nodes"][5] = {"id": "layer1", "type": "IdentityBottleneck", "params": {"width": 32}}
    path = tmp_path / "mismatched.nnd"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_report_lists_each_instance_as_one_row_of_its_totals(capsys) -> None:
    assert main(["report", str(RESNET50)]) == 0
    rows = csv_rows(capsys)
    assert [row["id"] for row in rows] == TOP_LEVEL
    layers = {row["id"]: row for row in rows}
    assert [layers[f"layer{i}"]["type"] for i in range(1, 5)] == ["Stage"] * 4
    assert [layers[f"layer{i}"]["output_shape"] for i in range(1, 5)] == [
        "256x56x56",
        "512x28x28",
        "1024x14x14",
        "2048x7x7",
    ]
    assert layers["layer1"]["input_shapes"] == "64x56x56"
    assert layers["layer4"]["rf_stride"] == "32x32"
    assert sum(int(row["params"]) for row in rows) == 25_557_032
    assert sum(int(row["macs"]) for row in rows) == 4_089_184_256
    assert layers["layer2"]["warnings"].startswith("layer2.first.conv2: along H and W")


def test_json_and_markdown_reports_have_the_same_rows(capsys) -> None:
    assert main(["report", str(RESNET50), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in document["nodes"]] == TOP_LEVEL
    layer3 = document["nodes"][TOP_LEVEL.index("layer3")]
    assert (layer3["type"], layer3["output_shape"], layer3["error"]) == (
        "Stage",
        [1024, 14, 14],
        "",
    )
    assert document["totals"]["params"] == 25_557_032
    assert document["totals"]["macs"] == 4_089_184_256
    assert main(["report", str(RESNET50), "--format", "markdown"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2 + TOP_LEVEL.index("layer3")].startswith("| layer3 |  | Stage | 1024x14x14 |")


def test_expand_follows_each_instance_with_what_it_holds(capsys) -> None:
    assert main(["report", str(RESNET50), "--expand"]) == 0
    rows = csv_rows(capsys)
    ids = [row["id"] for row in rows]
    flat = [node.id for node in load(RESNET50).arch.nodes()]
    layers = [i for i in ids if i in flat]
    assert layers == flat  # every layer once, in the flat design's order
    instances = [i for i in ids if i not in flat]
    assert instances[:6] == [
        "layer1",
        "layer1.first",
        "layer1.rest",
        "layer1.rest.0",
        "layer1.rest.1",
        "layer2",
    ]
    at = ids.index
    assert at("maxpool") < at("layer1") < at("layer1.first") < at("layer1.first.conv1")
    assert at("layer1.first.relu") < at("layer1.rest") < at("layer1.rest.0")
    assert at("layer1.rest.0") < at("layer1.rest.0.conv1") < at("layer1.rest.1") < at("layer2")
    assert at("layer4.rest.1.relu") < at("avgpool")
    by_id = {row["id"]: row for row in rows}
    assert by_id["layer1.rest"]["type"] == by_id["layer1.rest.1"]["type"] == "IdentityBottleneck"
    assert by_id["layer1.first.down_conv"]["name"] == "shortcut 1×1 conv"
    rest = int(by_id["layer1.rest"]["params"])
    assert rest == int(by_id["layer1.rest.0"]["params"]) + int(by_id["layer1.rest.1"]["params"])
    assert sum(int(by_id[i]["params"]) for i in layers) == 25_557_032


def test_check_names_errors_by_path(mismatched: Path, capsys) -> None:
    assert main(["check", str(mismatched)]) == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error")]
    assert lines[:3] == [
        "error: layer1.add: Add needs inputs of one shape: port 0 is 128x56x56, port 1 is 64x56x56",
        "error: layer1.relu: waits on layer1.add, which has an error",
        "error: layer2.first.conv1: waits on layer1.add, which has an error",
    ]
    assert main(["check", str(RESNET50)]) == 0


def test_report_of_an_instance_with_an_error_inside(mismatched: Path, capsys) -> None:
    assert main(["report", str(mismatched), "--format", "json"]) == 2
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    layer1 = rows["layer1"]
    assert layer1["error"] == (
        "layer1.add: Add needs inputs of one shape: port 0 is 128x56x56, port 1 is 64x56x56"
    )
    assert layer1["output_shape"] is None and layer1["params"] is None
    assert rows["layer2"]["error"].startswith("waits on layer1.add, which has an error")
    assert rows["layer2"]["error"].endswith("more)")


def test_an_instance_fed_by_nothing_says_so_as_a_layer_does(tmp_path: Path, capsys) -> None:
    doc = json.loads(RESNET50.read_text(encoding="utf-8"))
    doc["edges"] = [e for e in doc["edges"] if e["target"] != "layer2"]
    path = tmp_path / "unfed.nnd"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["report", str(path), "--format", "json"]) == 2
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    assert rows["layer2"]["error"] == "input port 0 is not connected"
    assert rows["maxpool"]["error"] == "" and rows["layer1"]["params"] == 215_808


def test_an_unfed_port_that_nothing_inside_reads_is_no_error(tmp_path: Path, capsys) -> None:
    two = {
        "id": "Two",
        "nodes": [
            {"id": "x0", "type": "BlockInput", "params": {"index": 0}},
            {"id": "x1", "type": "BlockInput", "params": {"index": 1}},
            {"id": "a", "type": "ReLU"},
            {"id": "y", "type": "BlockOutput"},
        ],
        "edges": [{"source": "x0", "target": "a"}, {"source": "a", "target": "y"}],
    }
    doc = {
        "format": "nn-designer-project",
        "version": 2,
        "name": "two ports",
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}},
            {"id": "t", "type": "Two"},
        ],
        "edges": [{"source": "input", "target": "t", "port": 0}],
        "blocks": [two],
    }
    path = tmp_path / "two.nnd"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["report", str(path), "--format", "json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    assert rows["t"]["error"] == "" and rows["t"]["output_shape"] == [3, 8, 8]

    # a layer inside that fails on its own: its error, not the unfed port that nothing reads
    two["nodes"][2] = {"id": "a", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 9}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["report", str(path), "--format", "json"]) == 2
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    assert rows["t"]["error"].startswith("t.a: "), rows["t"]["error"]


def test_a_file_with_blocks_that_cannot_be_read_is_said_in_one_line(tmp_path: Path, capsys) -> None:
    doc = json.loads(RESNET50.read_text(encoding="utf-8"))
    doc["blocks"][2]["nodes"][2]["repeat"] = {"expr": "depth ** 2"}
    path = tmp_path / "bad.nnd"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"designer: {path}: blocks[2].nodes[2].repeat: depth ** 2: ")
    assert len(err.splitlines()) == 1


def test_export_writes_a_class_per_block_and_verifies(tmp_path: Path, capsys) -> None:
    out = tmp_path / "resnet50.py"
    assert main(["export", str(RESNET50), "-o", str(out), "--verify"]) == 0
    assert "verified: torch agrees on every node" in capsys.readouterr().out
    source = out.read_text(encoding="utf-8")
    for block in ("Bottleneck", "IdentityBottleneck", "Stage"):
        assert f"class {block}(nn.Module):" in source
    assert "self.layer2 = Stage(256, width=128, stride=2, depth=4)" in source


def test_export_of_a_design_with_errors_writes_nothing(
    mismatched: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "broken.py"
    assert main(["export", str(mismatched), "-o", str(out)]) == 2
    assert "layer1.add: Add needs inputs of one shape" in capsys.readouterr().err
    assert not out.exists()


THROUGH = {
    "id": "Through",
    "nodes": [{"id": "x", "type": "BlockInput"}, {"id": "y", "type": "BlockOutput"}],
    "edges": [{"source": "x", "target": "y"}],
}
HALVES = {
    "id": "Halves",
    "params": {"n": 8},
    "nodes": [
        {"id": "x", "type": "BlockInput"},
        {"id": "a", "type": "Linear", "params": {"out_features": {"expr": "n"}}},
        {"id": "b", "type": "Linear", "params": {"out_features": {"expr": "n * 2"}}},
        {"id": "ya", "type": "BlockOutput"},
        {"id": "yb", "type": "BlockOutput", "params": {"index": 1}},
    ],
    "edges": [
        {"source": "x", "target": "a"},
        {"source": "x", "target": "b"},
        {"source": "a", "target": "ya"},
        {"source": "b", "target": "yb"},
    ],
}
SMALL = {
    "format": "nn-designer-project",
    "version": 2,
    "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [16]}},
        {"id": "t", "type": "Through", "name": "nothing inside"},
        {"id": "h", "type": "Halves"},
        {"id": "cat", "type": "Concat"},
        {"id": "hidden", "type": "Linear", "params": {"out_features": 24}, "repeat": 2},
    ],
    "edges": [
        {"source": "in", "target": "t"},
        {"source": "t", "target": "h"},
        {"source": "h", "target": "cat", "port": 0},
        {"source": "h", "target": "cat", "port": 1, "output": 1},
        {"source": "cat", "target": "hidden"},
    ],
    "blocks": [THROUGH, HALVES],
}


def test_instances_without_layers_with_several_outputs_and_repeated_layers(
    tmp_path: Path, capsys
) -> None:
    path = tmp_path / "small.nnd"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    assert main(["report", str(path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["nodes"]
    assert [(r["id"], r["type"]) for r in rows] == [
        ("in", "Input"),
        ("t", "Through"),
        ("h", "Halves"),
        ("cat", "Concat"),
        ("hidden", "Linear"),
    ]
    through, halves, hidden = rows[1], rows[2], rows[4]
    assert (through["name"], through["output_shape"], through["params"]) == (
        "nothing inside",
        [16],
        0,
    )
    assert halves["output_shapes"] == [[8], [16]] and halves["input_shapes"] == [[16]]
    assert halves["params"] == (16 * 8 + 8) + (16 * 16 + 16)
    assert hidden["params"] == 2 * (24 * 24 + 24) and hidden["macs"] == 2 * 24 * 24
    assert main(["report", str(path), "--format", "json", "--expand"]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)["nodes"]]
    assert ids == ["in", "t", "h", "h.a", "h.b", "cat", "hidden", "hidden.0", "hidden.1"]
