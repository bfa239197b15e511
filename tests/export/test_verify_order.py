"""verify pairs each value `forward` returns with the node the exporter returned it for,
whatever order the nodes are written in the file."""

from __future__ import annotations

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from designer.export.pytorch import export
from designer.export.report import report_order
from designer.export.verify import verify


def two_sinks_written_against_the_graph() -> Architecture:
    """input → trunk → flatten → head, and input → side: head (a sink) is written before
    side (the other sink) but comes after it in the graph's order."""
    arch = Architecture("two_sinks")
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 8, 8]}))
    arch.add_node(NodeRecord("head", "Linear", {"out_features": 5}))
    arch.add_node(NodeRecord("side", "Conv2d", {"out_channels": 2, "kernel_size": 3}))
    arch.add_node(NodeRecord("trunk", "Conv2d", {"out_channels": 4, "kernel_size": 3}))
    arch.add_node(NodeRecord("flatten", "Flatten", {}))
    arch.connect("input", "side")
    arch.connect("input", "trunk")
    arch.connect("trunk", "flatten")
    arch.connect("flatten", "head")
    return arch


def test_outputs_in_another_file_order_verify_clean() -> None:
    arch = two_sinks_written_against_the_graph()
    engine = analyse(arch)
    sinks = [n.id for n in arch.nodes() if arch.graph.out_degree(n.id) == 0]
    assert sinks == ["head", "side"]  # file order
    assert [n for n in report_order(engine) if n in sinks] == ["side", "head"]
    assert engine.results["head"].shape != engine.results["side"].shape
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == []


def test_the_export_names_its_outputs_in_return_order() -> None:
    arch = two_sinks_written_against_the_graph()
    exported = export(arch, analyse(arch))
    assert exported.outputs == [("side", 0), ("head", 0)]
    unit = exported.module_paths["head"].partition(".")[0]  # head ends the run trunk … head
    assert f"return (side, {unit})" in exported.source
