"""The Architecture: a networkx graph of layers with checked, primitive edits.

Nodes carry their layer type, the parameters written for them (defaults left out) with
their `signature`, an optional display name and canvas position, and `seq`, their place
in the file, so that a removed node comes back where it was. Edges are keyed by the target's input port
(a MultiDiGraph, so `x + x` is two edges from one node). Analysis results are never stored
here: the propagation engine keeps them beside the graph.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import networkx as nx

from designer.core import registry
from designer.core.spec import LayerSpec


class GraphError(ValueError):
    """An edit the graph refuses: unknown node, duplicate id, cycle, taken port."""


class ChangeKind(Enum):
    STRUCTURE = "structure"  # nodes or edges added or removed
    PARAMS = "params"  # a node's parameters changed
    COSMETIC = "cosmetic"  # name or position: no effect on the analysis


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    nodes: frozenset[str]


@dataclass(frozen=True)
class NodeRecord:
    """A node as it is stored and saved: everything needed to put it back."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    pos: tuple[float, float] | None = None
    seq: int | None = None


@dataclass(frozen=True, order=True)
class EdgeRecord:
    source: str
    target: str
    port: int = 0


Listener = Callable[[Change], None]


def signature(kind: str, params: dict[str, Any]) -> str:
    """A layer's type and written params as one string: what the engine's memo keys on.

    Stored with the node when its params are written, so no evaluation rebuilds it; a
    string, because Python caches a string's hash (and not a tuple's). Canonical params
    (LayerSpec.validate) hold only plain values and tuples, whose repr is unambiguous."""
    return sys.intern(f"{kind}{sorted(params.items())!r}")  # equal ones compare by identity


class Architecture:
    """The design being edited. Every mutation goes through a method here and is announced."""

    def __init__(self, name: str = "") -> None:
        self.graph = nx.MultiDiGraph()
        self.name = name
        self._next_seq = 0
        self._listeners: list[Listener] = []

    @classmethod
    def build(
        cls, name: str, nodes: Iterable[NodeRecord], edges: Iterable[EdgeRecord]
    ) -> Architecture:
        """An Architecture from checked records in one go (loading a file).

        Edges are added in bulk and the graph is checked for cycles once, instead of once
        per edge as `connect` does.
        """
        arch = cls(name)
        for record in nodes:
            arch.add_node(record)
        arch.graph.add_edges_from((e.source, e.target, e.port) for e in edges)
        try:
            cycle = nx.find_cycle(arch.graph)
        except nx.NetworkXNoCycle:
            return arch
        path = " → ".join([str(u) for u, *_ in cycle] + [str(cycle[0][0])])
        raise GraphError(f"the edges make a cycle: {path}")

    # reading ----------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph

    def __len__(self) -> int:
        return len(self.graph)

    def node(self, node_id: str) -> NodeRecord:
        data = self._data(node_id)
        return NodeRecord(
            node_id, data["type"], dict(data["params"]), data["name"], data["pos"], data["seq"]
        )

    def nodes(self) -> list[NodeRecord]:
        """All nodes in file order."""
        ordered = sorted(self.graph.nodes(data="seq"), key=lambda item: item[1])
        return [self.node(node_id) for node_id, _ in ordered]

    def edges(self) -> list[EdgeRecord]:
        """All edges, by target in file order, then port."""
        seq = self.graph.nodes(data="seq")
        edges = [EdgeRecord(u, v, port) for u, v, port in self.graph.edges(keys=True)]
        return sorted(edges, key=lambda e: (seq[e.target], e.port, seq[e.source]))

    def spec(self, node_id: str) -> LayerSpec:
        return registry.get(self._data(node_id)["type"])

    def inputs(self, node_id: str) -> list[tuple[int, str]]:
        """(port, source) pairs of a node, by port."""
        return sorted((port, u) for u, _, port in self.graph.in_edges(node_id, keys=True))

    def edges_of(self, node_id: str) -> list[EdgeRecord]:
        in_edges = self.graph.in_edges(node_id, keys=True)
        out_edges = self.graph.out_edges(node_id, keys=True)
        return sorted(EdgeRecord(u, v, port) for u, v, port in [*in_edges, *out_edges])

    def resolved_params(self, node_id: str) -> dict[str, Any]:
        """The parameters the layer is built with, defaults filled in."""
        return self.spec(node_id).resolve(self._data(node_id)["params"])

    # editing ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def add_node(self, record: NodeRecord) -> NodeRecord:
        """Add a node; returns it with its params validated and its file place assigned."""
        if not isinstance(record.id, str) or not record.id:
            raise GraphError("a node id must be a non-empty string")
        if record.id in self.graph:
            raise GraphError(f"a node with id {record.id!r} exists already")
        try:
            spec = registry.get(record.type)
        except KeyError as error:
            raise GraphError(error.args[0]) from None
        params = spec.validate(record.params)
        seq = self._next_seq if record.seq is None else record.seq
        self._next_seq = max(self._next_seq, seq + 1)
        self.graph.add_node(
            record.id,
            type=record.type,
            params=params,
            signature=signature(record.type, params),
            name=record.name,
            pos=record.pos,
            seq=seq,
        )
        self._announce(ChangeKind.STRUCTURE, [record.id])
        return NodeRecord(record.id, record.type, dict(params), record.name, record.pos, seq)

    def remove_node(self, node_id: str) -> tuple[NodeRecord, list[EdgeRecord]]:
        """Remove a node with its edges; returns both, to put them back."""
        record = self.node(node_id)
        edges = self.edges_of(node_id)
        neighbours = {e.source for e in edges} | {e.target for e in edges}
        self.graph.remove_node(node_id)
        self._announce(ChangeKind.STRUCTURE, neighbours | {node_id})
        return record, edges

    def connect(self, source: str, target: str, port: int | None = None) -> EdgeRecord:
        """Feed `source` into input `port` of `target` (the first free port if None)."""
        self._data(source)
        self._data(target)
        taken = {p for p, _ in self.inputs(target)}
        if port is None:
            port = next(p for p in range(len(taken) + 1) if p not in taken)
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            raise GraphError(f"a port is a non-negative int, got {port!r}")
        if port in taken:
            current = dict(self.inputs(target))[port]
            raise GraphError(f"input port {port} of {target!r} is taken by {current!r}")
        if source == target or nx.has_path(self.graph, target, source):
            raise GraphError(
                f"connecting {source!r} to {target!r} would make a cycle: "
                f"{target!r} already feeds {source!r}"
            )
        self.graph.add_edge(source, target, key=port)
        self._announce(ChangeKind.STRUCTURE, [source, target])
        return EdgeRecord(source, target, port)

    def disconnect(self, edge: EdgeRecord) -> None:
        if not self.graph.has_edge(edge.source, edge.target, key=edge.port):
            raise GraphError(
                f"there is no edge from {edge.source!r} to port {edge.port} of {edge.target!r}"
            )
        self.graph.remove_edge(edge.source, edge.target, key=edge.port)
        self._announce(ChangeKind.STRUCTURE, [edge.source, edge.target])

    def set_params(self, node_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a node's written params after validation (ParamError if refused)."""
        data = self._data(node_id)
        canonical = registry.get(data["type"]).validate(params)
        data["params"] = canonical
        data["signature"] = signature(data["type"], canonical)
        self._announce(ChangeKind.PARAMS, [node_id])
        return canonical

    def rename(self, node_id: str, name: str | None) -> None:
        self._data(node_id)["name"] = name or None
        self._announce(ChangeKind.COSMETIC, [node_id])

    def move(self, node_id: str, pos: tuple[float, float] | None) -> None:
        self._data(node_id)["pos"] = pos
        self._announce(ChangeKind.COSMETIC, [node_id])

    # internals --------------------------------------------------------------------------

    def _data(self, node_id: str) -> dict[str, Any]:
        try:
            return self.graph.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node {node_id!r}") from None

    def _announce(self, kind: ChangeKind, nodes: Iterable[str]) -> None:
        change = Change(kind, frozenset(nodes))
        for listener in list(self._listeners):
            listener(change)
