"""The Architecture: a networkx graph of layers with checked, primitive edits.

Nodes carry their layer type, the parameters written for them (defaults left out) with
their `signature`, an optional display name and canvas position, and `seq`, their place
in the file, so that a removed node comes back where it was. Edges are keyed by the
target's input port (a MultiDiGraph, so `x + x` is two edges from one node) and carry the
source's output slot where it is not 0. Analysis results are never stored here: the
propagation engine keeps them beside the graph.

A design read from a file in Kahn's order is held as the loader's columns until its graph
is first asked for (`columns.ColumnDesign`): a headless check never writes one.

The Architecture is the one door to the graph: exporters, reports and the window ask its
methods (`consumers`, `outputs`, `report_order`, …) rather than reading networkx. It
resolves layer types against the catalog it is given (the standard one by default).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from operator import lt
from typing import Any

import networkx as nx

from designer.core import registry
from designer.core.columns import (
    ColumnDesign,
    EdgeColumns,
    EdgeRecord,
    NodeColumns,
    NodeRecord,
    forget_cached,
    node_attributes,
    write_graph,
)
from designer.core.order import kahn_keeps_file_order, topological_order
from designer.core.params import clip_text
from designer.core.registry import unknown_type_message
from designer.core.spec import LayerSpec

Catalog = Mapping[str, LayerSpec]


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


Listener = Callable[[Change], None]
_STR = frozenset((str,))


def signature(kind: str, params: dict[str, Any]) -> str:
    """A layer's type and written params as one string: what the engine's memo keys on.

    Stored with the node when its params are written, so no evaluation rebuilds it; a
    string, because Python caches a string's hash (and not a tuple's). Canonical params
    (LayerSpec.validate) hold only plain values and tuples, whose repr is unambiguous."""
    return sys.intern(f"{kind}{sorted(params.items())!r}")  # equal ones compare by identity


class Architecture:
    """The design being edited. Every mutation goes through a method here and is announced."""

    def __init__(self, name: str = "", catalog: Catalog | None = None) -> None:
        self._graph = nx.MultiDiGraph()
        self._held: ColumnDesign | None = None  # a file's design, until a graph is asked for
        self.name = name
        self.catalog: Catalog = registry.LAYERS if catalog is None else catalog
        self._next_seq = 0
        self._listeners: list[Listener] = []
        self._in_kahns_order = False  # the graph's own order is `topological_order`'s: known
        # of a design built from a file that shows it, until a structural edit
        self._sharers: dict[str, list[str]] = {}  # a node → those that use its weights

    @classmethod
    def build(
        cls,
        name: str,
        nodes: Iterable[NodeRecord],
        edges: Iterable[EdgeRecord],
        catalog: Catalog | None = None,
        *,
        canonical: bool = False,
    ) -> Architecture:
        """An Architecture from records in one go.

        `canonical` records already hold checked params in canonical form (a loader has
        examined them), so they are not validated again, and they are added in bulk as
        `from_columns` adds them. Edges are added in bulk and the graph is checked for
        cycles once, by a topological sort, instead of once per edge as `connect` does.
        """
        arch = cls(name, catalog)
        if canonical:
            records = list(nodes)
            arch._add_columns(NodeColumns.of(records), _file_places(records))
        else:
            for record in nodes:
                arch.add_node(record)
        _add_edges(arch.graph, edges)
        arch._refuse_cycles(None)
        return arch

    @classmethod
    def from_columns(
        cls,
        name: str,
        nodes: NodeColumns,
        edges: EdgeColumns,
        catalog: Catalog | None = None,
        places: dict[str, int] | None = None,
    ) -> Architecture:
        """An Architecture from a loader's columns: canonical params (examined already),
        each node's place in the columns its place in the file, and edges whose ends are
        places in `nodes`; `places`, where the loader has it, maps each id to its place.

        A design in Kahn's order with distinct ids and no shared weights is held as its
        columns (`columns.ColumnDesign`) until its graph is first asked for: a check or a
        report reads it from there. Any other's graph is written now, in bulk (no record
        per node, no call per edge): a large file loads in a fraction of the time."""
        arch = cls(name, catalog)
        count = len(nodes.ids)
        arch._in_kahns_order = kahn_keeps_file_order(edges, count)
        if arch._in_kahns_order:
            arch._held = arch._column_design(nodes, edges, places)
        if arch._held is None:
            arch._add_columns(nodes, range(count), edges)
        else:
            arch._next_seq = count
        if not arch._in_kahns_order:  # (edges that run forward make no cycle)
            arch._refuse_cycles(edges)
        return arch

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The design's networkx graph; a held file's is written when first asked for."""
        if self._held is not None:
            self._held.write(self._graph)  # (written again in full, should this fail)
            self._held = None
        return self._graph

    @property
    def columns(self) -> ColumnDesign | None:
        """The design as the file's columns, while no graph has been written from them."""
        return self._held

    def _column_design(
        self, nodes: NodeColumns, edges: EdgeColumns, places: dict[str, int] | None
    ) -> ColumnDesign | None:
        """The columns to hold in place of a graph, or None where writing the graph must
        check more: an id refused or given twice, or weights shared."""
        ids = nodes.ids
        if not _STR.issuperset(map(type, ids)) or "" in ids or nodes.shares.count(None) < len(ids):
            return None
        if places is None:
            places = dict(zip(ids, range(len(ids))))
        if len(places) != len(ids):
            return None
        return ColumnDesign(nodes, edges, self._layers(nodes), places)

    def _layers(self, nodes: NodeColumns) -> list[dict[str, Any]]:
        """Each node's type, explicit params and signature, one dict for the nodes of one
        type and params dict (a loader gives equal params one dict; params are replaced
        by an edit, never changed in place), or the GraphError `add_node` would raise first
        where a type is unknown."""
        keys = list(zip(nodes.types, map(id, nodes.params)))
        layer_of: dict[tuple[str, int], dict[str, Any]] = {}
        for key, params in dict(zip(keys, nodes.params)).items():
            kind = key[0]
            try:
                spec = self.spec_of(kind)
            except KeyError:
                raise _first_refusal(nodes, self.spec_of) from None
            explicit = spec.explicit(params)
            layer_of[key] = {
                "type": kind,
                "params": explicit,
                "signature": signature(kind, explicit),
            }
        return list(map(layer_of.__getitem__, keys))

    def _add_columns(
        self, nodes: NodeColumns, places: Iterable[int], edges: EdgeColumns | None = None
    ) -> None:
        """`add_node(record, canonical=True)` for each node, with its edges, into this new
        design's empty graph; the GraphError `add_node` would raise first where one is
        refused. `places` are the nodes' `seq`s."""
        ids = nodes.ids
        if not _STR.issuperset(map(type, ids)) or "" in ids:
            raise _first_refusal(nodes, self.spec_of)
        seqs = list(places)
        attributes = node_attributes(self._layers(nodes), nodes, seqs)
        shares = nodes.shares
        sharers = []
        if shares.count(None) < len(shares):
            sharers = [i for i, owner in enumerate(shares) if owner is not None]
        for i in sharers:
            attributes[i]["shares"] = shares[i]
        graph = self.graph
        write_graph(graph, ids, attributes, edges)
        if len(graph) != len(ids):  # an id given twice
            raise _first_refusal(nodes, self.spec_of)
        self._next_seq = max(self._next_seq, max(seqs, default=-1) + 1)
        for i in sharers:
            data = attributes[i]
            self._check_sharing(ids[i], data["type"], data["params"], data["shares"])
            self._sharers.setdefault(data["shares"], []).append(ids[i])

    def _refuse_cycles(self, edges: EdgeColumns | None) -> None:
        """A GraphError naming a cycle, if the edges make one. Edges that each run forward
        in the file (`edges`' ends are file places) make none: nothing to sort."""
        if edges is not None and all(map(lt, edges.sources, edges.targets)):
            return
        if len(topological_order(self.graph)) == len(self.graph):
            return
        cycle = nx.find_cycle(self.graph)
        path = " → ".join([str(u) for u, *_ in cycle] + [str(cycle[0][0])])
        raise GraphError(f"the edges make a cycle: {clip_text(path)}")

    # reading ----------------------------------------------------------------------------

    def __contains__(self, node_id: object) -> bool:
        return node_id in (self._graph if self._held is None else self._held)

    def __len__(self) -> int:
        return len(self._graph if self._held is None else self._held)

    def node(self, node_id: str) -> NodeRecord:
        data = self._data(node_id)
        return NodeRecord(
            node_id,
            data["type"],
            dict(data["params"]),
            data["name"],
            data["pos"],
            data["seq"],
            data.get("shares"),
        )

    def nodes(self) -> list[NodeRecord]:
        """All nodes in file order."""
        ordered = sorted(self.graph.nodes(data="seq"), key=lambda item: item[1])
        return [self.node(node_id) for node_id, _ in ordered]

    def edges(self) -> list[EdgeRecord]:
        """All edges, by target in file order, then port."""
        seq = self.graph.nodes(data="seq")
        edges = [
            _edge(u, v, port, data) for u, v, port, data in self.graph.edges(keys=True, data=True)
        ]
        return sorted(edges, key=lambda e: (seq[e.target], e.port, seq[e.source]))

    def spec(self, node_id: str) -> LayerSpec:
        return self.spec_of(self.type_of(node_id))

    def spec_of(self, type_name: str) -> LayerSpec:
        """The spec of a layer type in this design's catalog; KeyError names near misses."""
        try:
            return self.catalog[type_name]
        except KeyError:
            raise KeyError(unknown_type_message(type_name, self.catalog)) from None

    def type_of(self, node_id: str) -> str:
        if self._held is not None and node_id in self._held:
            return self._held.type_of(node_id)
        return self._data(node_id)["type"]

    def params_of(self, node_id: str) -> dict[str, Any]:
        """The params written for a node (defaults left out). Do not change the dict: nodes
        of one type and equal params share it (edits replace it)."""
        return self._data(node_id)["params"]

    def name_of(self, node_id: str) -> str | None:
        """The node's display name, if it has one."""
        return self._data(node_id)["name"]

    def label(self, node_id: str) -> str:
        """What a person calls the node: its name, else its id."""
        return self._data(node_id)["name"] or node_id

    def inputs(self, node_id: str) -> list[tuple[int, str]]:
        """(port, source) pairs of a node, by port."""
        return sorted((port, u) for u, _, port in self.graph.in_edges(node_id, keys=True))

    def in_edges(self, node_id: str) -> list[EdgeRecord]:
        """The edges into a node, by port."""
        edges = self.graph.in_edges(node_id, keys=True, data=True)
        return sorted((_edge(u, v, port, data) for u, v, port, data in edges), key=lambda e: e.port)

    def producers(self, node_id: str) -> list[str]:
        """The distinct nodes that feed this one."""
        if self._held is not None and node_id in self._held:
            return self._held.producers(node_id)
        return list(self.graph._pred[node_id])

    def consumers(self, node_id: str) -> list[str]:
        """The distinct nodes this one feeds."""
        if self._held is not None and node_id in self._held:
            return self._held.consumers(node_id)
        return list(self.graph._succ[node_id])

    def edges_of(self, node_id: str) -> list[EdgeRecord]:
        in_edges = self.graph.in_edges(node_id, keys=True, data=True)
        out_edges = self.graph.out_edges(node_id, keys=True, data=True)
        return sorted(_edge(u, v, port, data) for u, v, port, data in [*in_edges, *out_edges])

    def input_ids(self) -> list[str]:
        """The nodes with no input port (the network's inputs), in file order."""
        return [n for n in self.file_order() if self.spec(n).inputs[1] == 0]

    def outputs(self) -> list[str]:
        """The network's results: nodes that feed nothing and are not inputs, in report
        order (the order exported code returns them)."""
        succ = self.graph._succ
        return [n for n in self.report_order() if not succ[n] and self.spec(n).inputs[1] != 0]

    def file_order(self) -> list[str]:
        """Node ids in the order of the file."""
        seq = self.graph.nodes(data="seq")
        return sorted(self.graph, key=seq.__getitem__)

    def report_order(self) -> list[str]:
        """Topological order, ties broken by file order (contract section 3)."""
        if self._in_kahns_order:  # a topological order, and the file's
            return self._file_ids()
        return topological_order(self.graph, by_seq=True)

    def evaluation_order(self) -> list[str]:
        """`topological_order` of the graph: the order an analysis evaluates the nodes in
        and keeps its results in."""
        if self._in_kahns_order:
            return self._file_ids()
        return topological_order(self.graph)

    def _file_ids(self) -> list[str]:
        """The ids in the graph's own order: the file's, where it has not been edited."""
        return list(self._graph if self._held is None else self._held.nodes.ids)

    def resolved_params(self, node_id: str) -> dict[str, Any]:
        """The parameters the layer is built with, defaults filled in."""
        return self.spec(node_id).resolve(self._data(node_id)["params"])

    # editing ----------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def add_node(self, record: NodeRecord, *, canonical: bool = False) -> NodeRecord:
        """Add a node; returns it with its params validated and its file place assigned.
        `canonical` params were checked already (`LayerSpec.examine`): only defaults are
        dropped."""
        if not isinstance(record.id, str) or not record.id:
            raise GraphError("a node id must be a non-empty string")
        if record.id in self.graph:
            raise GraphError(f"a node with id {clip_text(repr(record.id))} exists already")
        try:
            spec = self.spec_of(record.type)
        except KeyError as error:
            raise GraphError(error.args[0]) from None
        params = spec.explicit(record.params) if canonical else spec.validate(record.params)
        if record.shares is not None:
            self._check_sharing(record.id, record.type, params, record.shares)
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
            **({"shares": record.shares} if record.shares is not None else {}),
        )
        if record.shares is not None:
            self._sharers.setdefault(record.shares, []).append(record.id)
        self._announce(ChangeKind.STRUCTURE, [record.id])
        return NodeRecord(
            record.id, record.type, dict(params), record.name, record.pos, seq, record.shares
        )

    def _check_sharing(self, node_id: str, kind: str, params: dict[str, Any], owner: str) -> None:
        """A node may use the weights of another of its type and params, which uses its
        own: one module, called twice."""
        if owner not in self.graph:
            raise GraphError(f"{node_id!r} shares the weights of {owner!r}, which is not there")
        data = self._data(owner)
        if data.get("shares") is not None:
            raise GraphError(
                f"{node_id!r} shares the weights of {owner!r}, which uses {data['shares']!r}'s: "
                f"share {data['shares']!r}'s"
            )
        if data["type"] != kind or data["params"] != params:
            raise GraphError(
                f"{node_id!r} shares the weights of {owner!r}, so it must be the same layer: "
                f"{data['type']} {data['params']} against {kind} {params}"
            )

    def owner_of(self, node_id: str) -> str | None:
        """The node whose weights this one uses, if it shares another's."""
        return self._data(node_id).get("shares")

    def sharers(self, node_id: str) -> list[str]:
        """The nodes that use this node's weights, in file order. Kept as nodes come and
        go: every parameter edit asks, and looking through every node would cost a large
        design's edits milliseconds."""
        nodes = self.graph._node
        return sorted(self._sharers.get(node_id, ()), key=lambda n: nodes[n]["seq"])

    def remove_node(self, node_id: str) -> tuple[NodeRecord, list[EdgeRecord]]:
        """Remove a node with its edges; returns both, to put them back."""
        record = self.node(node_id)
        if sharing := self.sharers(node_id):
            raise GraphError(
                f"{node_id!r} holds the weights {', '.join(map(repr, sharing))} use: "
                "remove those first"
            )
        edges = self.edges_of(node_id)
        neighbours = {e.source for e in edges} | {e.target for e in edges}
        self.graph.remove_node(node_id)
        if record.shares is not None:
            fellows = self._sharers[record.shares]
            fellows.remove(node_id)
            if not fellows:
                del self._sharers[record.shares]
        self._announce(ChangeKind.STRUCTURE, neighbours | {node_id})
        return record, edges

    def connect(
        self, source: str, target: str, port: int | None = None, output: int = 0
    ) -> EdgeRecord:
        """Feed output slot `output` of `source` into input `port` of `target` (the first
        free port if None)."""
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
        if isinstance(output, bool) or not isinstance(output, int) or output < 0:
            raise GraphError(f"an output slot is a non-negative int, got {output!r}")
        if source == target or nx.has_path(self.graph, target, source):
            raise GraphError(
                f"connecting {source!r} to {target!r} would make a cycle: "
                f"{target!r} already feeds {source!r}"
            )
        if output:
            self.graph.add_edge(source, target, key=port, output=output)
        else:
            self.graph.add_edge(source, target, key=port)
        self._announce(ChangeKind.STRUCTURE, [source, target])
        return EdgeRecord(source, target, port, output)

    def disconnect(self, edge: EdgeRecord) -> None:
        data = self.graph.get_edge_data(edge.source, edge.target, key=edge.port)
        if data is None or data.get("output", 0) != edge.output:
            raise GraphError(
                f"there is no edge from {edge.source!r} to port {edge.port} of {edge.target!r}"
            )
        self.graph.remove_edge(edge.source, edge.target, key=edge.port)
        self._announce(ChangeKind.STRUCTURE, [edge.source, edge.target])

    def set_params(self, node_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a node's written params after validation (ParamError if refused); nodes
        that share weights are one layer, so they change together."""
        data = self._data(node_id)
        canonical = self.spec_of(data["type"]).validate(params)
        owner = data.get("shares") or node_id
        group = [owner, *self.sharers(owner)]
        for member in group:
            member_data = self._data(member)
            member_data["params"] = dict(canonical)
            member_data["signature"] = signature(data["type"], canonical)
        self._announce(ChangeKind.PARAMS, group)
        return canonical

    def rename(self, node_id: str, name: str | None) -> None:
        self._data(node_id)["name"] = name or None
        self._announce(ChangeKind.COSMETIC, [node_id])

    def move(self, node_id: str, pos: tuple[float, float] | None) -> None:
        self._data(node_id)["pos"] = pos
        self._announce(ChangeKind.COSMETIC, [node_id])

    def place(self, positions: Mapping[str, tuple[float, float] | None]) -> None:
        """`move` each node to its position, announced once: a file's layout at open, an
        Arrange and its undo (the canvas then follows them in one pass)."""
        data = self.graph._node
        missing = next((node_id for node_id in positions if node_id not in data), None)
        if missing is not None:  # (checked first: nothing is moved)
            raise GraphError(f"there is no node {missing!r}")
        for node_id, pos in positions.items():
            data[node_id]["pos"] = pos
        self._announce(ChangeKind.COSMETIC, positions)

    # internals --------------------------------------------------------------------------

    def _data(self, node_id: str) -> dict[str, Any]:
        try:
            return self.graph.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node {node_id!r}") from None

    def _announce(self, kind: ChangeKind, nodes: Iterable[str]) -> None:
        if kind is ChangeKind.STRUCTURE:
            self._in_kahns_order = False
        change = Change(kind, frozenset(nodes))
        for listener in list(self._listeners):
            listener(change)


def _edge(source: str, target: str, port: int, data: dict[str, Any]) -> EdgeRecord:
    return EdgeRecord(source, target, port, data.get("output", 0))


def _file_places(records: list[NodeRecord]) -> list[int]:
    """Each record's `seq` as `add_node` assigns it: its own, else the next after all
    before it."""
    places, next_seq = [], 0
    for record in records:
        seq = next_seq if record.seq is None else record.seq
        next_seq = max(next_seq, seq + 1)
        places.append(seq)
    return places


def _first_refusal(nodes: NodeColumns, spec_of: Callable[[str], LayerSpec]) -> GraphError:
    """The GraphError `add_node` raises first, adding the nodes one by one."""
    seen: set[str] = set()
    for node_id, kind in zip(nodes.ids, nodes.types):
        if not isinstance(node_id, str) or not node_id:
            return GraphError("a node id must be a non-empty string")
        if node_id in seen:
            return GraphError(f"a node with id {clip_text(repr(node_id))} exists already")
        seen.add(node_id)
        try:
            spec_of(kind)
        except KeyError as error:
            return GraphError(error.args[0])
    raise AssertionError("no node is refused")


def _add_edges(graph: nx.MultiDiGraph, edges: Iterable[EdgeRecord]) -> None:
    """`graph.add_edges_from` of the records (port as key, `output` where not 0), written
    into networkx's adjacency dicts directly: `add_edges_from` of a MultiDiGraph goes
    through `add_edge` and three view objects per edge, most of a large file's load time.
    An edge to a node the graph lacks goes through `add_edge`, which adds the node."""
    succ, pred = graph._succ, graph._pred
    new_keys, new_data = graph.edge_key_dict_factory, graph.edge_attr_dict_factory
    for edge in edges:
        source, target, port = edge.source, edge.target, edge.port
        if source not in succ or target not in succ:
            if edge.output:
                graph.add_edge(source, target, key=port, output=edge.output)
            else:
                graph.add_edge(source, target, key=port)
            continue
        keys = succ[source].get(target)
        if keys is None:
            keys = succ[source][target] = pred[target][source] = new_keys()
        data = keys.get(port)
        if data is None:
            data = keys[port] = new_data()
        if edge.output:
            data["output"] = edge.output
    forget_cached(graph)
