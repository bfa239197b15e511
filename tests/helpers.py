"""Small builders shared by tests: load an example, build a chain of layers."""

from __future__ import annotations

from typing import Any

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import Engine, analyse
from designer.io.project import load
from tests.conftest import EXAMPLES


def example(name: str) -> tuple[Architecture, Engine]:
    arch = load(EXAMPLES / f"{name}.nnd").arch
    return arch, analyse(arch)


def chain(shape: tuple[int, ...], *layers: tuple[str, dict[str, Any]]) -> Architecture:
    """Input → layer 1 → layer 2 …, with ids input, l1, l2, …"""
    arch = Architecture("chain")
    arch.add_node(NodeRecord("input", "Input", {"shape": list(shape)}))
    previous = "input"
    for index, (kind, params) in enumerate(layers, start=1):
        node_id = f"l{index}"
        arch.add_node(NodeRecord(node_id, kind, params))
        arch.connect(previous, node_id)
        previous = node_id
    return arch


def outputs(arch: Architecture) -> list[str]:
    """Nodes that feed nothing, in file order."""
    return [n.id for n in arch.nodes() if arch.graph.out_degree(n.id) == 0]
