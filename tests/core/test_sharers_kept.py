"""`Architecture.sharers` is kept as nodes come and go (a parameter edit asks it, so it
must not look through every node): it always names what a look through every node finds,
in file order, whether the design was built node by node or loaded from a file."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from designer.core.edits import RemoveNode
from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.io import project

CONV = {"out_features": 4}


def looked_through(arch: Architecture, owner: str) -> list[str]:
    return [n for n in arch.file_order() if arch.owner_of(n) == owner]


def same_as_a_look_through(arch: Architecture) -> None:
    for node_id in arch.file_order():
        assert arch.sharers(node_id) == looked_through(arch, node_id)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 5)), max_size=25))
def test_sharers_follow_additions_removals_and_undo(steps: list[tuple[bool, int, int]]) -> None:
    arch = Architecture("shared")
    removals: list[RemoveNode] = []
    for add, which, owner in steps:
        node_id, owner_id = f"n{which}", f"n{owner}"
        if add and node_id not in arch:
            shares = owner_id if owner_id in arch and owner_id != node_id else None
            try:
                arch.add_node(NodeRecord(node_id, "Linear", CONV, shares=shares))
            except GraphError:  # the owner itself uses another's weights
                continue
        elif not add and node_id in arch:
            removal = RemoveNode(node_id)
            try:
                removal.apply(arch)
            except GraphError:  # others still use its weights
                continue
            removals.append(removal)
        same_as_a_look_through(arch)
    for removal in reversed(removals):
        if removal.node_id not in arch:
            try:
                removal.revert(arch)
            except GraphError:  # its owner is gone again
                continue
            same_as_a_look_through(arch)


def test_a_loaded_design_knows_its_sharers() -> None:
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [4]}},
        {"id": "a", "type": "Linear", "params": CONV},
        {"id": "b", "type": "Linear", "params": CONV, "shares": "a"},
        {"id": "c", "type": "Linear", "params": CONV, "shares": "a"},
    ]
    edges = [
        {"source": "in", "target": "a"},
        {"source": "a", "target": "b"},
        {"source": "b", "target": "c"},
    ]
    document = {"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges}
    arch = project.loads(json.dumps(document)).arch
    assert arch.sharers("a") == ["b", "c"]
    arch.set_params("c", {"out_features": 8})  # the three are one layer
    assert {arch.params_of(n)["out_features"] for n in "abc"} == {8}
    same_as_a_look_through(arch)
