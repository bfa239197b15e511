"""The engine's shortcuts give the answers of evaluating every layer in full.

The engine remembers layer evaluations (on unit receptive fields, replayed affinely), shares
what it learns across engines, and keys them on a signature stored with each node. Here
`helpers.assert_agrees` compares it with a plain walk that evaluates every layer on its
real input tensors and remembers nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.core import memo, registry
from designer.core.analysis import Settings
from designer.core.edits import SetParams
from designer.core.graph import NodeRecord, signature
from designer.core.propagate import analyse
from designer.io.project import load
from tests.conftest import EXAMPLES
from tests.helpers import assert_agrees, chain


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nnd")), ids=lambda p: p.stem)
def test_every_example_agrees_with_a_walk_that_remembers_nothing(path: Path) -> None:
    arch = load(path).arch
    memo.forget()
    assert_agrees(arch, analyse(arch))
    assert_agrees(arch, analyse(arch))  # and again, from what the first analysis learnt


def test_one_layer_on_many_input_fields_replays_each_exactly() -> None:
    """A stack of equal strided, padded, dilated convs: one evaluation, replayed on ever
    larger fields, equals evaluating each layer on its own fields."""
    conv = (
        "Conv2d",
        {
            "out_channels": 4,
            "kernel_size": [3, 5],
            "stride": [2, 1],
            "padding": [1, 3],
            "dilation": [1, 2],
        },
    )
    arch = chain((4, 200, 90), *[conv] * 6)
    memo.forget()
    engine = analyse(arch)
    assert_agrees(arch, engine)
    assert engine.results["l6"].fields[1].size == 1 + 6 * 8  # 6 layers of 9 dilated taps


def test_engines_share_what_they_learn() -> None:
    memo.forget()
    first = chain((3, 32, 32), ("Conv2d", {"out_channels": 8, "kernel_size": 3}), ("ReLU", {}))
    analyse(first)
    learnt = len(memo.memo_for(Settings()).known)
    assert learnt == 3  # the Input, the conv and the ReLU
    second = chain((3, 32, 32), ("Conv2d", {"out_channels": 8, "kernel_size": 3}), ("ReLU", {}))
    analyse(second)
    assert len(memo.memo_for(Settings()).known) == learnt
    memo.forget()
    assert memo.memo_for(Settings()).known == {}


def test_equal_params_share_a_signature_and_an_edit_renews_it() -> None:
    arch = chain(
        (3, 8, 8),
        ("Conv2d", {"out_channels": 8, "kernel_size": 3}),
        ("Conv2d", {"kernel_size": 3, "out_channels": 8}),
    )
    data = arch.graph.nodes
    assert data["l1"]["signature"] is data["l2"]["signature"]
    SetParams.with_param(arch, "l2", "out_channels", 9).apply(arch)
    assert data["l1"]["signature"] != data["l2"]["signature"]
    canonical = registry.get("Conv2d").validate({"out_channels": 9, "kernel_size": 3})
    assert data["l2"]["signature"] == signature("Conv2d", canonical)


def test_a_refusal_is_remembered_per_node_and_said_on_each() -> None:
    arch = chain((3, 4, 4), ("Conv2d", {"out_channels": 8, "kernel_size": 7}))
    arch.add_node(NodeRecord("l2", "Conv2d", {"out_channels": 8, "kernel_size": 7}))
    arch.connect("input", "l2")
    engine = analyse(arch)
    assert engine.results["l1"].error == engine.results["l2"].error
    assert "kernel_size 7 is larger than the padded input 4" in engine.results["l2"].error
