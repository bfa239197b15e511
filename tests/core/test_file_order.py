"""A loaded design whose file order is Kahn's skips the sort (`Architecture.evaluation_order`
and `report_order` give the file's order), and only then: whatever the file, both orders
are the ones the sorts give, before and after edits, and so is the order of the results."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from designer.core.graph import Architecture, NodeRecord, topological_order
from designer.core.propagate import Engine, analyse
from designer.io import project


def loaded(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Architecture:
    document = {"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges}
    return project.loads(json.dumps(document)).arch


def sorts_agree(arch: Architecture) -> None:
    assert arch.evaluation_order() == topological_order(arch.graph)
    assert arch.report_order() == topological_order(arch.graph, by_seq=True)
    assert list(analyse(arch).results) == topological_order(arch.graph)


@st.composite
def designs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Inputs and Adds in any order, each Add fed on both ports by any node before it (or,
    rarely, after: a cycle the loader refuses), the edges listed by target or shuffled."""
    kinds = draw(st.lists(st.sampled_from(["Input", "Add", "Add"]), min_size=1, max_size=10))
    nodes = [
        {"id": f"n{i}", "type": kind, **({"params": {"shape": [4]}} if kind == "Input" else {})}
        for i, kind in enumerate(kinds)
    ]
    edges = []
    for target, kind in enumerate(kinds):
        if kind == "Add" and target > 0:
            for port in (0, 1):
                source = draw(st.integers(0, target - 1))
                edges.append({"source": f"n{source}", "target": f"n{target}", "port": port})
    if draw(st.booleans()):
        edges = draw(st.permutations(edges))
    return nodes, edges


@settings(max_examples=300, deadline=None)
@given(designs())
def test_the_orders_are_the_sorts_whatever_the_file(design: tuple[list, list]) -> None:
    arch = loaded(*design)
    sorts_agree(arch)


@settings(max_examples=100, deadline=None)
@given(designs(), st.data())
def test_an_edit_leaves_the_orders_the_sorts(
    design: tuple[list, list], data: st.DataObject
) -> None:
    arch = loaded(*design)
    engine = Engine(arch)
    engine.refresh()
    arch.add_node(NodeRecord("late", "Input", {"shape": [4]}))
    adds = [node["id"] for node in design[0] if node["type"] == "Add"]
    if adds:  # an Add fed from a node placed after it: its old edges go
        target = data.draw(st.sampled_from(adds))
        for edge in arch.in_edges(target):
            arch.disconnect(edge)
        arch.connect("late", target, 0)
    sorts_agree(arch)
    engine.refresh()
    assert list(engine.results) != [] and engine.results == analyse(arch).results


def chain(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}}]
    nodes += [{"id": f"r{i}", "type": "ReLU"} for i in range(count)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in pairwise(nodes)]
    return nodes, edges


def test_a_chain_and_a_residual_block_keep_the_file_order() -> None:
    assert loaded(*chain(5))._in_kahns_order
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
        {"id": "a", "type": "ReLU"},
        {"id": "b", "type": "ReLU"},
        {"id": "sum", "type": "Add"},
    ]
    edges = [
        {"source": "in", "target": "a"},
        {"source": "a", "target": "b"},
        {"source": "b", "target": "sum", "port": 0},
        {"source": "in", "target": "sum", "port": 1},
    ]
    arch = loaded(nodes, edges)
    assert arch._in_kahns_order
    sorts_agree(arch)


def test_interleaved_branches_are_sorted() -> None:
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
        {"id": "left", "type": "ReLU"},
        {"id": "left2", "type": "ReLU"},
        {"id": "right", "type": "ReLU"},
        {"id": "sum", "type": "Add"},
    ]
    edges = [
        {"source": "in", "target": "left"},
        {"source": "left", "target": "left2"},
        {"source": "in", "target": "right"},
        {"source": "left2", "target": "sum", "port": 0},
        {"source": "right", "target": "sum", "port": 1},
    ]
    arch = loaded(nodes, edges)  # Kahn's walk takes `right` before `left2`
    assert not arch._in_kahns_order
    assert topological_order(arch.graph) == ["in", "left", "right", "left2", "sum"]
    sorts_agree(arch)


def test_a_structural_edit_forgets_the_file_order() -> None:
    arch = loaded(*chain(3))
    arch.set_params("r1", {"inplace": True})  # not structural: the order stands
    assert arch._in_kahns_order
    arch.add_node(NodeRecord("extra", "ReLU"))
    assert not arch._in_kahns_order
    sorts_agree(arch)


def test_update_brings_the_results_up_to_date_without_listing_them() -> None:
    arch = loaded(*chain(3))
    engine = Engine(arch)
    engine.update()
    assert engine.results == analyse(arch).results
    assert engine.refresh() == set()
    arch.set_params("r1", {"inplace": True})
    engine.update()
    assert engine.refresh() == set()
    assert engine.results == analyse(arch).results
