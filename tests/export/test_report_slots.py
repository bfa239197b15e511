"""The report shows every output slot's shape and the output's dtype; its fast CSV and
Markdown say exactly what `cells(row(...))` says, in the order the contract asks for."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx
import pytest

from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import Engine, analyse
from designer.export import report
from designer.io.project import load
from tests.conftest import EXAMPLES
from tests.helpers import chain

HEADER = report.COLUMNS + report.EXTRA_COLUMNS


def csv_rows(engine: Engine) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(report.render(engine, "csv"))))


def test_every_output_slot_has_its_shape() -> None:
    arch = chain((3, 8, 8), ("MaxPool2d", {"kernel_size": 2, "return_indices": True}))
    engine = analyse(arch)
    pool = next(r for r in csv_rows(engine) if r["id"] == "l1")
    assert pool["output_shape"] == "3x4x4"  # the contract's column: slot 0
    assert pool["output_shapes"] == "3x4x4 3x4x4"
    assert pool["dtype"] == "float32"
    nodes = {n["id"]: n for n in json.loads(report.render(engine, "json"))["nodes"]}
    assert nodes["l1"]["output_shapes"] == [[3, 4, 4], [3, 4, 4]]
    assert nodes["l1"]["dtype"] == "float32"
    assert nodes["input"]["output_shapes"] == [[3, 8, 8]]


def test_a_node_without_a_result_has_no_shapes_and_no_dtype() -> None:
    arch = chain((3, 2, 2), ("MaxPool2d", {"kernel_size": 5, "return_indices": True}))
    engine = analyse(arch)
    pool = next(r for r in csv_rows(engine) if r["id"] == "l1")
    assert pool["error"]
    assert (pool["output_shape"], pool["output_shapes"], pool["dtype"]) == ("", "", "")
    nodes = {n["id"]: n for n in json.loads(report.render(engine, "json"))["nodes"]}
    assert nodes["l1"]["output_shapes"] == []
    assert nodes["l1"]["dtype"] is None


def test_the_extra_columns_follow_the_contract_columns() -> None:
    assert HEADER[: len(report.COLUMNS)] == report.COLUMNS
    assert HEADER[-2:] == ("output_shapes", "dtype")


def designs() -> list[tuple[str, Architecture]]:
    named = [(path.stem, load(path).arch) for path in sorted(EXAMPLES.glob("*.nnd"))]
    slots = chain(
        (3, 8, 8),
        ("MaxPool2d", {"kernel_size": 2, "return_indices": True}),
        ("ReLU", {}),
    )
    named.append(("slots", slots))
    quoted = chain((3, 8, 8), ("ReLU", {}), ("Conv2d", {"out_channels": 2, "kernel_size": 9}))
    quoted.rename("l1", 'a name with, a comma, "quotes"\nand a line break')
    quoted.rename("l2", "a | bar")
    named.append(("quoted", quoted))
    return named


@pytest.mark.parametrize(("name", "arch"), designs(), ids=lambda v: v if isinstance(v, str) else "")
def test_csv_and_markdown_say_what_cells_says(name: str, arch: Architecture) -> None:
    engine = analyse(arch)
    expected = [list(HEADER)] + [
        report.cells(report.row(engine, node_id)) for node_id in report.report_order(engine)
    ]
    assert list(csv.reader(io.StringIO(report.render(engine, "csv")))) == expected
    lines = ["| " + " | ".join(report.markdown_cell(c) for c in cells) + " |" for cells in expected]
    markdown = report.render(engine, "markdown")
    assert markdown.startswith(f"{lines[0]}\n|{'---|' * len(HEADER)}\n")
    assert "\n".join(lines[1:]) + "\n\n| total | value |\n" in markdown


def test_report_order_is_topological_with_file_order_ties() -> None:
    """A file not in topological order: each node as early as its inputs allow, ties to the
    earlier node in the file (what networkx's lexicographical sort by file place gives)."""
    nodes = [
        NodeRecord("head", "Linear", {"out_features": 2}),
        NodeRecord("side", "ReLU"),
        NodeRecord("input", "Input", {"shape": [4]}),
        NodeRecord("flat", "Flatten"),
        NodeRecord("other", "Input", {"shape": [4]}),
    ]
    edges = [
        EdgeRecord("flat", "head"),
        EdgeRecord("input", "flat"),
        EdgeRecord("other", "side"),
    ]
    arch = Architecture.build("unordered", nodes, edges)
    graph = arch.graph
    expected = list(nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n]["seq"]))
    assert (
        report.report_order(analyse(arch))
        == expected
        == [
            "input",
            "flat",
            "head",
            "other",
            "side",
        ]
    )
