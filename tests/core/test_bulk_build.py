"""`Architecture.build` from a loader's canonical records writes networkx's dicts itself
(for speed); the graph must be the one networkx's own methods build."""

from __future__ import annotations

import pytest

from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.io.project import load
from tests.conftest import EXAMPLES


def one_by_one(arch: Architecture) -> Architecture:
    built = Architecture(arch.name)
    for record in arch.nodes():
        built.add_node(record)
    for edge in arch.edges():
        built.connect(edge.source, edge.target, edge.port, edge.output)
    return built


@pytest.mark.parametrize("name", ["resnet18", "unet-small", "seed-20-inception-reduced"])
def test_a_bulk_built_graph_is_the_graph_networkx_builds(name: str) -> None:
    bulk = load(EXAMPLES / f"{name}.nnd").arch
    slow = one_by_one(bulk)
    assert dict(bulk.graph.nodes(data=True)) == dict(slow.graph.nodes(data=True))
    assert sorted(bulk.graph.edges(keys=True, data=True)) == sorted(
        slow.graph.edges(keys=True, data=True)
    )
    for node_id in bulk.file_order():
        assert bulk.in_edges(node_id) == slow.in_edges(node_id)
        assert bulk.consumers(node_id) == slow.consumers(node_id)
    # and it goes on editing like any other
    bulk.add_node(NodeRecord("extra", "ReLU"))
    bulk.connect(bulk.outputs()[0], "extra")
    assert bulk.graph.has_edge(bulk.producers("extra")[0], "extra")


def test_a_bulk_build_refuses_a_duplicate_id() -> None:
    record = NodeRecord("a", "ReLU", {})
    with pytest.raises(GraphError, match="exists already"):
        Architecture.build("", [record, record], [], canonical=True)
