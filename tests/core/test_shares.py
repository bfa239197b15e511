"""Shared weights (contract 1b `shares`): one module called twice is one layer."""

from __future__ import annotations

import pytest

from designer.core.edits import RemoveNode, SetParams
from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.core.propagate import Engine, analyse

CONV = {"out_channels": 4, "kernel_size": 3, "padding": 1}


def twice() -> Architecture:
    arch = Architecture("twice")
    arch.add_node(NodeRecord("x", "Input", {"shape": [4, 8, 8]}))
    arch.add_node(NodeRecord("a", "Conv2d", CONV))
    arch.add_node(NodeRecord("b", "Conv2d", CONV, shares="a"))
    arch.connect("x", "a")
    arch.connect("a", "b")
    return arch


def test_the_weights_count_once() -> None:
    engine = analyse(twice())
    assert (engine.results["a"].params, engine.results["b"].params) == (4 * 4 * 9 + 4, 0)
    assert engine.results["b"].macs == engine.results["a"].macs  # it still computes
    assert engine.totals().params == 4 * 4 * 9 + 4


def test_an_edit_of_either_changes_both() -> None:
    arch = twice()
    engine = Engine(arch)
    engine.refresh()
    SetParams.with_param(arch, "b", "bias", False).apply(arch)
    assert arch.node("a").params == arch.node("b").params == {**CONV, "bias": False}
    engine.refresh()
    assert engine.results["a"].params == 4 * 4 * 9
    assert engine.results == analyse(arch).results


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (NodeRecord("c", "Conv2d", CONV, shares="nobody"), "which is not there"),
        (NodeRecord("c", "Conv2d", {**CONV, "out_channels": 8}, shares="a"), "same layer"),
        (NodeRecord("c", "ReLU", {}, shares="a"), "same layer"),
        (NodeRecord("c", "Conv2d", CONV, shares="b"), "share 'a''s"),
    ],
)
def test_what_cannot_share(record: NodeRecord, message: str) -> None:
    with pytest.raises(GraphError, match=message):
        twice().add_node(record)


def test_the_holder_goes_only_after_its_sharers_and_undo_restores() -> None:
    arch = twice()
    with pytest.raises(GraphError, match="remove those first"):
        arch.remove_node("a")
    removal = RemoveNode("b")
    removal.apply(arch)
    arch.remove_node("a")
    arch.add_node(NodeRecord("a", "Conv2d", CONV))
    removal.revert(arch)
    assert arch.node("b").shares == "a"
