"""Small builders shared by tests (load an example, build a chain of layers), and a
reference analysis that remembers nothing, to hold the engine to."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import Engine, analyse
from designer.core.spec import LayerError, LayerOutput, Tensor
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


def reference(arch: Architecture) -> dict[str, LayerOutput | None]:
    """Each node's layer evaluated on its real inputs (the output slot each edge reads, its
    dtype and where it holds the batch) in topological order; None where the layer refuses
    or waits on a refusal."""
    outputs: dict[str, LayerOutput | None] = {}
    for node_id in nx.topological_sort(arch.graph):
        spec = arch.spec(node_id)
        edges = arch.in_edges(node_id)
        fewest, most = spec.inputs
        wired = [edge.port for edge in edges] == list(range(len(edges)))
        if not wired or len(edges) < fewest or (most is not None and len(edges) > most):
            outputs[node_id] = None
            continue
        tensors = [_slot(outputs[edge.source], edge.output) for edge in edges]
        if any(x is None for x in tensors):
            outputs[node_id] = None
            continue
        try:
            outputs[node_id] = spec.apply(tensors, arch.resolved_params(node_id))
        except LayerError:
            outputs[node_id] = None
    return outputs


def _slot(out: LayerOutput | None, slot: int) -> Tensor | None:
    """Output `slot` of a layer's figures as the tensor its consumer takes."""
    if out is None or slot > len(out.more):
        return None
    if slot:
        return out.more[slot - 1]
    return Tensor(out.shape, out.fields, out.dtype, out.batch_axis)


def assert_agrees(arch: Architecture, engine: Engine) -> None:
    """The engine's results equal the reference walk's: shape, counts, the layer's own
    warnings, and receptive fields (to rounding)."""
    for node_id, expected in reference(arch).items():
        got = engine.results[node_id]
        if expected is None:
            assert got.output is None, node_id
            continue
        assert got.shape == expected.shape, node_id
        assert (got.params, got.buffers, got.macs, got.flops) == (
            expected.params,
            expected.buffers,
            expected.macs,
            expected.flops,
        ), node_id
        assert set(expected.warnings) <= set(got.warnings), node_id
        if expected.fields is None:
            assert got.fields is None, node_id
        else:  # replayed arithmetic may round differently in the last place
            flat = [value for field in got.fields for value in field]
            assert flat == pytest.approx([v for f in expected.fields for v in f], rel=1e-12), (
                node_id
            )


# A node for `build`: id, type, params, sources (an id, or (id, output slot)) on ports 0, 1, …
Node = tuple[str, str, dict[str, Any], tuple]


def build(inputs: dict[str, list[int] | dict[str, Any]], *nodes: Node, name: str = "design"):
    """A design from Inputs (a shape, or the Input's params) and nodes in order."""
    arch = Architecture(name)
    for node_id, given in inputs.items():
        params = given if isinstance(given, dict) else {"shape": given}
        arch.add_node(NodeRecord(node_id, "Input", params))
    for node_id, kind, params, sources in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
        for port, source in enumerate(sources):
            source, slot = source if isinstance(source, tuple) else (source, 0)
            arch.connect(source, node_id, port, output=slot)
    return arch
