"""The loader's column paths (every node, then every edge, checked a column at a time and
handed to `Architecture.from_columns`) give exactly what reading them one by one gives: the
same design, notes and extras, or the same problems in the same order. The quick path
tests in test_load_speed_paths leave the column paths on; here each case is loaded with
them on and off, and the graph compared with the one networkx's own methods build."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core.graph import Architecture, NodeRecord, topological_order
from designer.core.propagate import analyse
from designer.io import plain_columns, project
from tests.conftest import EXAMPLES
from tests.io.test_load_speed_paths import (
    BASE,
    BASE_NODES,
    EXAMPLE_TEXTS,
    ODD_TEXTS,
    document,
    documents,
    outcome,
)


def one_by_one_outcome(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    with monkeypatch.context() as patch:
        patch.setattr(project._Reader, "quick", classmethod(lambda cls, data, start=0: None))
        patch.setattr(project._Reader, "_plain_nodes", lambda self, raw: None)
        patch.setattr(plain_columns, "plain_edges", lambda raw, ends, types: None)
        return outcome(text)


def same_both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    columns = outcome(text)
    assert columns == one_by_one_outcome(text, monkeypatch)
    return columns


SHARED = [
    {"id": "in", "type": "Input", "params": {"shape": [4]}},
    {"id": "a", "type": "Linear", "params": {"out_features": 4}},
    {"id": "b", "type": "Linear", "params": {"out_features": 4}, "shares": "a"},
    {"id": "sum", "type": "Add"},
]
SHARED_EDGES = [
    {"source": "in", "target": "a"},
    {"source": "a", "target": "b"},
    {"source": "a", "target": "sum", "port": 0},
    {"source": "b", "target": "sum", "port": 1},
]
TWICE = [{"id": "in", "type": "Input", "params": {"shape": [3, 4]}}, {"id": "sum", "type": "Add"}]
COLUMN_TEXTS = {
    **ODD_TEXTS,
    "shares": json.dumps(document(SHARED, SHARED_EDGES)),
    "shares a sharer": json.dumps(
        document(
            [*SHARED, {"id": "c", "type": "Linear", "params": {"out_features": 4}, "shares": "b"}],
            SHARED_EDGES,
        )
    ),
    "shares another type": json.dumps(
        document([*SHARED, {"id": "c", "type": "ReLU", "shares": "a"}], SHARED_EDGES)
    ),
    "shares nothing": json.dumps(
        document([*SHARED, {"id": "c", "type": "ReLU", "shares": "gone"}], SHARED_EDGES)
    ),
    "shares empty": json.dumps(document([*SHARED, {"id": "c", "type": "ReLU", "shares": ""}], [])),
    "x + x": json.dumps(
        document(
            TWICE,
            [
                {"source": "in", "target": "sum", "port": 1},
                {"source": "in", "target": "sum", "port": 0},
            ],
        )
    ),
    "output slots": json.dumps(
        document(
            [
                {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
                {
                    "id": "pool",
                    "type": "MaxPool2d",
                    "params": {"kernel_size": 2, "return_indices": True},
                },
                {"id": "idx", "type": "Identity"},
            ],
            [{"source": "in", "target": "pool"}, {"source": "pool", "target": "idx", "output": 1}],
        )
    ),
    "ports mixed": json.dumps(
        document(
            BASE_NODES,
            [
                {"source": "in", "target": "conv", "port": 0},
                {"source": "conv", "target": "add", "port": 1},
                {"source": "conv", "target": "add", "port": 0},
            ],
        )
    ),
    "edge into a faulty node": BASE.replace('"type": "Add"', '"type": "Nope"'),
    "edges backwards": json.dumps(
        document(
            [BASE_NODES[2], BASE_NODES[1], BASE_NODES[0]],
            [
                {"source": "conv", "target": "add", "port": 0},
                {"source": "in", "target": "conv"},
                {"source": "conv", "target": "add", "port": 1},
            ],
        )
    ),
    "no nodes": json.dumps(document([], [])),
    "Add fed on port 0 alone": BASE.replace(', {"source": "conv", "target": "add", "port": 1}', ""),
    "Concat fed once": BASE.replace('"type": "Add"', '"type": "Concat"').replace(
        ', {"source": "conv", "target": "add", "port": 1}', ""
    ),
}


@pytest.mark.parametrize("case", sorted(COLUMN_TEXTS))
def test_odd_files_load_the_same_by_columns(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways(COLUMN_TEXTS[case], monkeypatch)


@pytest.mark.parametrize("name", sorted(EXAMPLE_TEXTS))
def test_examples_load_by_columns(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plain_columns, "plain_node", lambda *args: pytest.fail(name))
    monkeypatch.setattr(plain_columns, "plain_edge", lambda *args: pytest.fail(name))
    assert outcome(EXAMPLE_TEXTS[name])[0] != "refused"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents)
def test_random_documents_load_the_same_by_columns(doc: dict[str, Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        same_both_ways(json.dumps(doc), monkeypatch)


def networkx_built(arch: Architecture) -> Architecture:
    built = Architecture(arch.name)
    for record in arch.nodes():
        built.add_node(record)
    for edge in arch.edges():
        built.connect(edge.source, edge.target, edge.port, edge.output)
    return built


def same_graph(arch: Architecture, other: Architecture) -> None:
    assert list(arch.graph.nodes(data=True)) == list(other.graph.nodes(data=True))
    for mine, theirs in (
        (arch.graph._succ, other.graph._succ),
        (arch.graph._pred, other.graph._pred),
    ):
        assert list(mine) == list(theirs)
        for node, neighbours in mine.items():  # the same neighbours, in the same order
            assert list(neighbours.items()) == list(theirs[node].items())


@pytest.mark.parametrize("case", ["shares", "x + x", "output slots", "ports mixed"])
def test_a_column_built_graph_is_the_graph_networkx_builds(case: str) -> None:
    arch = project.loads(COLUMN_TEXTS[case]).arch
    same_graph(arch, networkx_built(arch))
    keys = arch.graph._succ["in"]["sum"] if case == "x + x" else None
    assert keys is None or list(keys) == [1, 0]  # ports in the order of the edges


@pytest.mark.parametrize("name", ["resnet18", "unet-small", "seed-20-inception-reduced"])
def test_examples_build_the_graph_networkx_builds(name: str) -> None:
    arch = project.load(EXAMPLES / f"{name}.nnd").arch
    same_graph(arch, networkx_built(arch))


def test_a_canonical_build_keeps_each_records_place() -> None:
    records = [
        NodeRecord("a", "ReLU", seq=5),
        NodeRecord("b", "ReLU"),
        NodeRecord("c", "ReLU", seq=2),
    ]
    arch = Architecture.build("", records, [], canonical=True)
    assert [arch.graph.nodes[n]["seq"] for n in "abc"] == [5, 6, 2]
    assert arch.add_node(NodeRecord("d", "ReLU")).seq == 7


@pytest.mark.parametrize(
    "records, message",
    [
        ([NodeRecord("a", "Nope"), NodeRecord("a", "ReLU"), NodeRecord("a", "ReLU")], "unknown"),
        ([NodeRecord("a", "ReLU"), NodeRecord("a", "ReLU"), NodeRecord("b", "Nope")], "exists"),
        ([NodeRecord("a", "ReLU"), NodeRecord("", "ReLU"), NodeRecord("a", "ReLU")], "non-empty"),
    ],
)
def test_a_canonical_build_refuses_the_first_node_add_node_would(
    records: list[NodeRecord], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        Architecture.build("", records, [], canonical=True)


@pytest.mark.parametrize("name", sorted(EXAMPLE_TEXTS))
def test_a_first_analysis_keeps_kahns_order(name: str) -> None:
    arch = project.loads(EXAMPLE_TEXTS[name]).arch
    engine = analyse(arch)
    assert list(engine.results) == topological_order(arch.graph)
    assert engine.results == analyse(networkx_built(arch)).results


@given(st.permutations(range(6)))
def test_results_come_in_kahns_order_whatever_the_file_order(order: list[int]) -> None:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}}]
    nodes += [{"id": f"r{i}", "type": "ReLU"} for i in range(5)]
    edges = [{"source": "in", "target": "r0"}, {"source": "in", "target": "r1"}]
    edges += [{"source": "r0", "target": "r2"}, {"source": "r2", "target": "r3"}]
    edges += [{"source": "r1", "target": "r4"}]
    arch = project.loads(json.dumps(document([nodes[i] for i in order], edges))).arch
    assert list(analyse(arch).results) == topological_order(arch.graph)
