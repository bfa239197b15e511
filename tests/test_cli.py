"""The `designer` command: report formats, check, and exit statuses (contract section 2)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.export.report import COLUMNS
from tests.conftest import EXAMPLES

BROKEN_DESIGN = """{
  "format": "nn-designer-project", "version": 1, "name": "mismatch",
  "nodes": [
    {"id": "input", "type": "Input", "params": {"shape": [3, 32, 32]}},
    {"id": "a", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3}},
    {"id": "b", "type": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}},
    {"id": "sum", "type": "Add"},
    {"id": "relu", "type": "ReLU"}
  ],
  "edges": [
    {"source": "input", "target": "a"}, {"source": "input", "target": "b"},
    {"source": "a", "target": "sum", "port": 0}, {"source": "b", "target": "sum", "port": 1},
    {"source": "sum", "target": "relu"}
  ]
}"""


@pytest.fixture
def broken_design(tmp_path: Path) -> Path:
    path = tmp_path / "mismatch.nnd"
    path.write_text(BROKEN_DESIGN)
    return path


@pytest.mark.parametrize(
    ("name", "params", "macs"),
    [
        ("alexnet", 61_100_840, 714_188_480),
        ("vgg16", 138_357_544, 15_470_264_320),
        ("resnet18", 11_689_512, 1_814_073_344),
    ],
)
def test_report_totals_of_published_networks(name: str, params: int, macs: int, capsys) -> None:
    assert main(["report", str(EXAMPLES / f"{name}.nnd"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["totals"]["params"] == params
    assert document["totals"]["macs"] == macs
    assert sum(row["params"] for row in document["nodes"]) == params
    assert sum(row["macs"] for row in document["nodes"]) == macs


def test_csv_columns_and_rows(capsys) -> None:
    assert main(["report", str(EXAMPLES / "seed-08-conv-stride2-floor.nnd")]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(rows[0][: len(COLUMNS)]) == COLUMNS
    conv = dict(zip(rows[0], rows[2]))
    assert conv["output_shape"] == "512x63x63"
    assert (conv["params"], conv["rf"], conv["rf_stride"], conv["error"]) == (
        "410112",
        "5x5",
        "2x2",
        "",
    )


def test_fractional_stride_after_upsampling(capsys) -> None:
    assert main(["report", str(EXAMPLES / "espcn.nnd")]) == 0
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["shuffle"]["rf_stride"] == "0.333333x0.333333"
    assert rows["sigmoid"]["output_shape"] == "1x192x192"


def test_report_rows_follow_topological_then_file_order(capsys) -> None:
    assert main(["report", str(EXAMPLES / "seed-19-inception-naive.nnd"), "--format", "json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)["nodes"]]
    assert ids[0] == "input" and ids[-1] == "concat"


def test_markdown_report_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    assert (
        main(["report", str(EXAMPLES / "lenet5.nnd"), "--format", "markdown", "-o", str(out)]) == 0
    )
    text = out.read_text()
    assert text.startswith("| id | name | type | output_shape |")
    assert "| params | 61,706 |" in text


def test_memory_follows_batch_and_dtype(capsys) -> None:
    main(
        [
            "report",
            str(EXAMPLES / "seed-16-linear.nnd"),
            "--format",
            "json",
            "--batch-size",
            "8",
            "--dtype",
            "float16",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    linear = document["nodes"][1]
    assert linear["memory"] == 2 * 8 * 2
    assert document["totals"]["param_memory"] == 10 * 2


def test_report_of_a_design_with_errors_exits_2_and_still_writes(
    broken_design: Path, capsys
) -> None:
    assert main(["report", str(broken_design), "--format", "json"]) == 2
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)["nodes"]}
    assert (
        rows["sum"]["error"]
        == "Add needs inputs of one shape: port 0 is 8x30x30, port 1 is 8x32x32"
    )
    assert rows["sum"]["output_shape"] is None
    assert rows["relu"]["error"] == "waits on sum, which has an error"
    assert rows["a"]["output_shape"] == [8, 30, 30] and rows["b"]["error"] == ""


def test_check_lists_problems_by_node(broken_design: Path, capsys) -> None:
    assert main(["check", str(broken_design)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "error: sum: Add needs inputs of one shape: port 0 is 8x30x30, port 1 is 8x32x32"
    )
    assert lines[1] == "error: relu: waits on sum, which has an error"


def test_check_passes_with_warnings(capsys) -> None:
    assert main(["check", str(EXAMPLES / "seed-08-conv-stride2-floor.nnd")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("warning: conv: along H and W, (128 + 2 − 5)/2 + 1 = 63.5 floors to 63")


def test_unreadable_file_exits_1_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.nnd"
    result = subprocess.run(
        [sys.executable, "-m", "designer", "report", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"designer: {missing}: cannot read the file")
