"""A warning about a layer's neighbours goes when the neighbours change, even when the
layer itself and its direct input are untouched (Linear → Dropout → Linear, rewired)."""

from __future__ import annotations

from designer.core.edits import Compound, Connect, Disconnect
from designer.core.graph import EdgeRecord, NodeRecord
from designer.core.propagate import Engine, analyse
from tests.helpers import assert_agrees, chain


def test_rewiring_behind_a_dropout_clears_follows_linear() -> None:
    arch = chain(
        (8,),
        ("Linear", {"out_features": 4}),
        ("Dropout", {}),
        ("Linear", {"out_features": 3}),
    )
    arch.add_node(NodeRecord("relu", "ReLU", {}))
    arch.connect("l1", "relu")
    engine = Engine(arch)
    engine.refresh()
    assert any("follows Linear" in w for w in engine.results["l3"].warnings)

    Compound([Disconnect(EdgeRecord("l1", "l2", 0)), Connect("relu", "l2", 0)], "Rewire").apply(
        arch
    )
    engine.refresh()

    assert sorted((e.source, e.target) for e in arch.edges_of("l2")) == [
        ("l2", "l3"),
        ("relu", "l2"),
    ]
    assert not any("follows Linear" in w for w in engine.results["l3"].warnings)
    assert engine.results["l3"] == analyse(arch).results["l3"]
    assert engine.results == analyse(arch).results
    assert_agrees(arch, engine)


def test_a_bias_cancelled_by_two_norms_names_one_whatever_the_wiring_order() -> None:
    """Both wiring orders, and the file read back, name the same BatchNorm (the first
    wired was named, so a design and its saved file said different things)."""
    from designer.io.project import dumps, loads

    named = set()
    for order in (("bn_b", "bn_a"), ("bn_a", "bn_b")):
        arch = chain((3, 8, 8), ("Conv2d", {"out_channels": 4, "kernel_size": 1}))
        for node_id in order:
            arch.add_node(NodeRecord(node_id, "BatchNorm2d", {}))
            arch.connect("l1", node_id)
        warnings = analyse(arch).results["l1"].warnings
        named.update(w for w in warnings if "cancelled" in w)
        assert analyse(loads(dumps(arch)).arch).results == analyse(arch).results
    assert named == {
        "bias is cancelled by the BatchNorm2d that follows (bn_a): bias=False saves 4 parameters"
    }
