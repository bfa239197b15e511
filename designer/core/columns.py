"""Nodes and edges as they are handed over: records (one object per node or edge), columns
(one list per field, as a loader reads a large file), and a design held as its columns
until something needs its networkx graph.

A networkx graph keeps five dicts per node (its data, its successors and predecessors,
an edge's keys and data) and three dicts of every id: most of the time a 10⁶-node file
takes to load. A headless check or report of such a file is analysed and answered from
the columns instead (`ColumnDesign`); the window's first look at the graph writes it, in
bulk (`write_graph`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class NodeRecord:
    """A node as it is stored and saved: everything needed to put it back."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    pos: tuple[float, float] | None = None
    seq: int | None = None
    shares: str | None = None  # the node whose weights this one uses: one module, two calls


@dataclass(frozen=True, order=True)
class EdgeRecord:
    """`source`'s output slot `output` feeds input `port` of `target`."""

    source: str
    target: str
    port: int = 0
    output: int = 0


@dataclass
class NodeColumns:
    """Nodes as one list per NodeRecord field, `seq` aside (a node's place in the lists
    is its place in the file): how a loader hands over a large design without a record
    per node."""

    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    params: list[dict[str, Any]] = field(default_factory=list)
    names: list[str | None] = field(default_factory=list)
    pos: list[tuple[float, float] | None] = field(default_factory=list)
    shares: list[str | None] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[NodeRecord]) -> NodeColumns:
        columns = cls()
        for record in records:
            columns.append(record)
        return columns

    def append(self, record: NodeRecord) -> None:
        self.ids.append(record.id)
        self.types.append(record.type)
        self.params.append(record.params)
        self.names.append(record.name)
        self.pos.append(record.pos)
        self.shares.append(record.shares)

    def drop(self, places: set[int]) -> None:
        """Remove the nodes at `places`."""
        for column in (self.ids, self.types, self.params, self.names, self.pos, self.shares):
            column[:] = [value for i, value in enumerate(column) if i not in places]


@dataclass
class EdgeColumns:
    """Edges as one list per EdgeRecord field, their ends as places in a NodeColumns."""

    sources: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)


def write_graph(
    graph: nx.MultiDiGraph,
    ids: list[str],
    attributes: list[dict[str, Any]],
    edges: EdgeColumns | None,
) -> None:
    """Write an empty graph's dicts as `add_node` and `add_edge` would fill them, in
    bulk: each data dict kept as the node's own (networkx would copy it twice), and the
    edges written by place into the neighbour dicts, keyed by the nodes' own id strings."""
    succ: list[dict[str, dict[int, dict[str, Any]]]] = [{} for _ in ids]
    pred: list[dict[str, dict[int, dict[str, Any]]]] = [{} for _ in ids]
    if edges is not None:
        for source, target, port, output in zip(
            edges.sources, edges.targets, edges.ports, edges.outputs
        ):
            target_id = ids[target]
            data = {"output": output} if output else {}
            keys = succ[source].get(target_id)
            if keys is None:
                succ[source][target_id] = pred[target][ids[source]] = {port: data}
            else:  # a parallel edge (`x + x`): one dict of ports, as add_edge keeps it
                keys[port] = data
    graph._node.update(zip(ids, attributes))
    graph._succ.update(zip(ids, succ))
    graph._pred.update(zip(ids, pred))
    forget_cached(graph)


def forget_cached(graph: nx.MultiDiGraph) -> None:
    """What networkx (3.3 and later) remembers about a graph, forgotten as its own edits do."""
    cache = getattr(graph, "__networkx_cache__", None)
    if cache:
        cache.clear()


# What feeds a node: the one node whose output 0 alone feeds its port 0, or networkx's
# predecessor dict ({source: {port: edge data}}).
Feed = str | dict[str, dict[int, dict[str, Any]]]


class ColumnDesign:
    """A design read from a file, held as the loader's columns in place of a graph.

    Held only where the graph would need no more checking: ids distinct, nodes in
    Kahn's order (so no cycle, and the order an analysis evaluates them in), no node
    sharing another's weights. `layers` are the nodes' data dicts as the engine reads
    them (type, explicit params, signature): one dict for the nodes of one type and
    params, read and never written."""

    def __init__(
        self,
        nodes: NodeColumns,
        edges: EdgeColumns,
        layers: list[dict[str, Any]],
        places: dict[str, int],
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.layers = layers
        self.places = places  # node id → its place in the columns
        self._sources: list[list[int]] | None = None  # each node's, by place: `_adjacency`
        self._targets: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.nodes.ids)

    def __contains__(self, node_id: object) -> bool:
        try:
            return node_id in self.places
        except TypeError:  # an unhashable "id", as networkx answers it
            return False

    def type_of(self, node_id: str) -> str:
        return self.nodes.types[self.places[node_id]]

    def producers(self, node_id: str) -> list[str]:
        """The distinct nodes that feed this one, in the order networkx's dicts keep."""
        sources, _ = self._adjacency()
        return self._distinct(sources[self.places[node_id]])

    def consumers(self, node_id: str) -> list[str]:
        """The distinct nodes this one feeds, in the order networkx's dicts keep."""
        _, targets = self._adjacency()
        return self._distinct(targets[self.places[node_id]])

    def _distinct(self, places: list[int]) -> list[str]:
        ids = self.nodes.ids
        return [ids[place] for place in dict.fromkeys(places)]

    def _adjacency(self) -> tuple[list[list[int]], list[list[int]]]:
        """Each node's sources and targets by place, edge by edge: built when a layer's
        warnings first ask about its neighbours (a bias before a BatchNorm)."""
        if self._sources is None or self._targets is None:
            count = len(self.nodes.ids)
            self._sources, self._targets = [[] for _ in range(count)], [[] for _ in range(count)]
            for source, target in zip(self.edges.sources, self.edges.targets):
                self._sources[target].append(source)
                self._targets[source].append(target)
        return self._sources, self._targets

    def feed(self) -> tuple[list[str], list[dict[str, Any]], list[Feed]]:
        """Each node's id, layer and sources, in the file's order: what an analysis reads
        of a graph. A node fed on port 0 by output 0 of one node alone (most nodes) has
        that node's id for its sources, any other the dict networkx's predecessor dict
        holds ({source: {port: edge data}})."""
        ids = self.nodes.ids
        sources: list[Any] = [None] * len(ids)
        edges = self.edges
        for source, target, port, output in zip(
            edges.sources, edges.targets, edges.ports, edges.outputs
        ):
            fed = sources[target]
            if fed is None and not port and not output:
                sources[target] = ids[source]
                continue
            if fed is None:
                fed = sources[target] = {}
            elif type(fed) is str:
                fed = sources[target] = {fed: {0: {}}}
            ports = fed.setdefault(ids[source], {})
            ports[port] = {"output": output} if output else {}
        if None in sources:  # a node fed by none
            sources = [{} if fed is None else fed for fed in sources]
        return ids, self.layers, sources

    def write(self, graph: nx.MultiDiGraph) -> None:
        """Write the design into an empty graph, as `Architecture.from_columns` writes one
        it does not hold."""
        attributes = node_attributes(self.layers, self.nodes, range(len(self)))
        write_graph(graph, self.nodes.ids, attributes, self.edges)


def node_attributes(
    layers: list[dict[str, Any]], nodes: NodeColumns, seqs: Iterable[int]
) -> list[dict[str, Any]]:
    """Each node's networkx data dict: its layer (type, params, signature), then its name,
    position and `seq`."""
    return [
        {**layer, "name": name, "pos": pos, "seq": seq}
        for layer, name, pos, seq in zip(layers, nodes.names, nodes.pos, seqs)
    ]
