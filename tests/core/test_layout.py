"""The layout's generations are networkx's, read from its dicts directly, on every example
and on random designs; `Architecture.place` moves as `move` does, announced once."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings

from designer.core.graph import ChangeKind, GraphError
from designer.core.layout import _generations, layered_positions
from designer.io import project
from tests.conftest import EXAMPLES
from tests.core.test_file_order import designs, loaded


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nnd")), ids=lambda p: p.stem)
def test_the_generations_are_networkxs_on_every_example(path) -> None:
    graph = project.load(path).arch.graph
    assert list(_generations(graph)) == list(nx.topological_generations(graph))


@settings(max_examples=200, deadline=None)
@given(designs())
def test_the_generations_are_networkxs_on_random_designs(design: tuple[list, list]) -> None:
    try:
        arch = loaded(*design)
    except project.ProjectError:
        return  # (a cycle)
    assert list(_generations(arch.graph)) == list(nx.topological_generations(arch.graph))


def test_place_moves_every_node_and_announces_once() -> None:
    arch = project.load(EXAMPLES / "resnet18.nnd").arch
    heard = []
    arch.subscribe(heard.append)
    positions = layered_positions(arch.graph)
    arch.place(positions)
    assert all(arch.node(n).pos == pos for n, pos in positions.items())
    assert [(c.kind, c.nodes) for c in heard] == [(ChangeKind.COSMETIC, frozenset(positions))]
    with pytest.raises(GraphError, match="there is no node 'nope'"):
        arch.place({"nope": (0.0, 0.0)})
