"""Blocks (contract 1b): sub-designs that a design uses as layers, and their checks.

A BlockDef is a small design: layers, instances of other blocks, and `BlockInput` and
`BlockOutput` nodes (param `index`, default 0) that are its input ports and output slots.
Its params have defaults; inside it, a value may be an `{"expr": ...}` over them
(designer.core.expr). A node whose type is a block id is an instance of it, its params
overriding the defaults; any node may carry `repeat: N`, N copies in a chain.

A Library holds a design's blocks, checked together once, every problem collected: ids,
ports, edges, the names expressions read, and that no block holds itself, directly or not.
Blocks are values: an edited definition makes a new Library (`replacing`), and flattening
the design again (designer.core.block_flatten) brings every instance's numbers up to date.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from designer.core import registry
from designer.core.expr import ExprError, expressions, holds_expr, is_expr
from designer.core.graph import Catalog, EdgeRecord, NodeRecord
from designer.core.params import ParamError, clip_text, did_you_mean, show_value
from designer.core.problems import ProblemsError
from designer.core.spec import LayerSpec

BLOCK_INPUT = "BlockInput"
BLOCK_OUTPUT = "BlockOutput"
PORT_TYPES = (BLOCK_INPUT, BLOCK_OUTPUT)
MAX_NESTING = 32  # blocks inside blocks: deeper than any network needs
_CAP_WORDS = re.compile(r"[A-Z][A-Za-z0-9]*")


class BlockError(ProblemsError):
    """Blocks, instances or a flattening refused: every problem, each naming its place
    (a block and its node, or an instance's path)."""


@dataclass(frozen=True)
class Instance:
    """A node that flattening expands: a use of block `type`, whose params override the
    block's, or a layer of type `type` repeated. `repeat` copies chain, each feeding the
    next. Inside a block, params and `repeat` may be expressions over its params.

    A NodeRecord whose type is a block id is an instance too, used once."""

    id: str
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    repeat: int | Mapping[str, Any] = 1
    name: str | None = None
    pos: tuple[float, float] | None = None


Member = NodeRecord | Instance


def repeat_of(member: Member) -> int | Mapping[str, Any]:
    """A node's `repeat`: 1 unless an Instance says otherwise."""
    return member.repeat if isinstance(member, Instance) else 1


def join(scope: str, node_id: str) -> str:
    """The path of `node_id` inside the instance at path `scope` ('' for the design)."""
    return f"{scope}.{node_id}" if scope else node_id


@dataclass(frozen=True)
class BlockDef:
    """A block: `params` are its defaults; `nodes` and `edges` its inside, where
    BlockInput/BlockOutput nodes are its ports."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    nodes: Sequence[Member] = ()
    edges: Sequence[EdgeRecord] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "edges", tuple(self.edges))

    def ports(self, kind: str) -> dict[int, str]:
        """The BlockInput (or BlockOutput) nodes' ids by index."""
        return {node.params.get("index", 0): node.id for node in self.nodes if node.type == kind}

    @property
    def inputs(self) -> int:
        """How many input ports an instance has."""
        return sum(node.type == BLOCK_INPUT for node in self.nodes)

    @property
    def outputs(self) -> int:
        """How many output slots an instance has."""
        return sum(node.type == BLOCK_OUTPUT for node in self.nodes)


class Library:
    """A design's blocks, checked together; a BlockError lists every problem found."""

    def __init__(self, blocks: Iterable[BlockDef] = (), catalog: Catalog | None = None) -> None:
        self.catalog: Catalog = registry.LAYERS if catalog is None else catalog
        self.blocks: dict[str, BlockDef] = {}
        problems: list[str] = []
        for block in blocks:
            problem = self._id_problem(block.id)
            if problem:
                problems.append(problem)
            else:
                self.blocks[block.id] = block
        for block in self.blocks.values():
            problems += _param_problems(block)
            problems += check_scope(
                f"block {block.id}", block.nodes, block.edges, self, frozenset(block.params)
            )
        problems += self._nesting_problems()
        if problems:
            raise BlockError(problems)
        self._orders = {b.id: scope_order(b.nodes, b.edges) for b in self.blocks.values()}
        self._incoming = {b.id: incoming(b.edges) for b in self.blocks.values()}

    def __contains__(self, block_id: object) -> bool:
        return block_id in self.blocks

    def __getitem__(self, block_id: str) -> BlockDef:
        return self.blocks[block_id]

    def __iter__(self) -> Iterator[BlockDef]:
        return iter(self.blocks.values())

    def __len__(self) -> int:
        return len(self.blocks)

    def replacing(self, block: BlockDef) -> Library:
        """This library with `block` in place of the one of its id (or added): an edit."""
        kept = [block if b.id == block.id else b for b in self.blocks.values()]
        return Library(kept if block.id in self.blocks else [*kept, block], self.catalog)

    def order(self) -> list[str]:
        """Block ids, each after the blocks it holds: the order exported code defines them."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.blocks)
        graph.add_edges_from((used, b.id) for b in self for used in self._uses(b))
        position = {block_id: i for i, block_id in enumerate(self.blocks)}
        return list(nx.lexicographical_topological_sort(graph, key=position.__getitem__))

    def order_of(self, block_id: str) -> list[Member]:
        """A block's nodes, each after those that feed it (file order breaking ties)."""
        return self._orders[block_id]

    def incoming(self, block_id: str) -> dict[str, list[EdgeRecord]]:
        """A block's edges by target."""
        return self._incoming[block_id]

    def _id_problem(self, block_id: Any) -> str | None:
        shown = clip_text(repr(block_id), 80)
        if not isinstance(block_id, str) or not _CAP_WORDS.fullmatch(block_id):
            return f"block {shown}: a block id is CapWords (letters and digits, a capital first)"
        if block_id in self.catalog or block_id in PORT_TYPES:
            return f"block {shown}: {block_id} is a layer type; a block needs another id"
        if block_id in self.blocks:
            return f"block {shown}: two blocks have this id"
        return None

    def _uses(self, block: BlockDef) -> dict[str, str]:
        """The blocks `block` holds instances of, each with one of those nodes' ids."""
        return {n.type: n.id for n in reversed(block.nodes) if n.type in self.blocks}

    def _nesting_problems(self) -> list[str]:
        graph = nx.DiGraph()
        graph.add_nodes_from(self.blocks)
        for block in self:
            for used, node_id in self._uses(block).items():
                graph.add_edge(block.id, used, node=node_id)
        position = {block_id: i for i, block_id in enumerate(self.blocks)}
        rings = [
            sorted(c, key=position.__getitem__) for c in nx.strongly_connected_components(graph)
        ]
        problems = [
            _cycle_problem(graph, nx.find_cycle(graph.subgraph(ring), ring[0]))
            for ring in sorted(rings, key=lambda ring: position[ring[0]])
            if len(ring) > 1 or graph.has_edge(ring[0], ring[0])
        ]
        if not problems:
            depth = nx.dag_longest_path_length(graph) + 1
            if depth > MAX_NESTING:
                problems.append(f"blocks nest {depth} deep; at most {MAX_NESTING}")
        return problems


def _cycle_problem(graph: nx.DiGraph, cycle: list[tuple[str, str]]) -> str:
    """Blocks that hold one another in a ring, each with the node that holds the next."""
    if len(cycle) == 1:
        block_id, _ = cycle[0]
        node_id = graph.edges[cycle[0]]["node"]
        return f"block {block_id}, {node_id}: a block may not hold an instance of itself"
    path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
    holds = ", ".join(f"{u}.{graph.edges[u, v]['node']} is an instance of {v}" for u, v in cycle)
    return f"blocks may not hold themselves, directly or not: {path} ({holds})"


def _param_problems(block: BlockDef) -> list[str]:
    """A block's params are names an expression can read, with plain default values."""
    problems = []
    for name, value in block.params.items():
        where = f"block {block.id}, param {clip_text(repr(name), 80)}"
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            problems.append(f"{where}: a param name is a word (letters, digits, _)")
        elif is_expr(value):
            problems.append(f"{where}: a default is a value, not an expression")
    return problems


def check_scope(
    where: str,
    members: Sequence[Member],
    edges: Sequence[EdgeRecord],
    library: Library,
    names: frozenset[str] | None,
) -> list[str]:
    """The problems of a block's inside (`names` its params) or of a design's top level
    (`names` None): nodes, ports, edges, the names expressions read, cycles."""
    problems: list[str] = []
    ends: dict[str, Member] = {}
    for member in members:
        node_id = member.id
        if not isinstance(node_id, str) or not node_id:
            problems.append(f"{where}: a node id must be a non-empty string")
        elif names is not None and "." in node_id:
            problems.append(
                f"{where}, {clip_text(node_id, 80)}: an id inside a block may not hold '.', "
                "which joins the parts of a path"
            )
        elif node_id in ends:
            problems.append(f"{where}, {clip_text(node_id, 80)}: two nodes have this id")
        else:
            ends[node_id] = member
            problems += [f"{where}, {node_id}: {p}" for p in _member_problems(member, library)]
            problems += [f"{where}, {node_id}: {p}" for p in _name_problems(member, names)]
    for member in ends.values():
        owner = getattr(member, "shares", None)
        if owner is not None and owner not in ends:
            problems.append(f"{where}, {member.id}: shares the weights of {owner!r}, not here")
    problems += _edge_problems(where, ends, edges, library)
    problems += _port_problems(where, ends, edges, names is not None)
    if not problems:
        graph = nx.DiGraph((e.source, e.target) for e in edges)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return []
        path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
        problems.append(f"{where}: the edges make a cycle: {clip_text(path)}")
    return problems


def _member_problems(member: Member, library: Library) -> list[str]:
    """What is wrong with one node, alone: its type, its port index, its repeat."""
    kind, repeat = member.type, repeat_of(member)
    if kind in PORT_TYPES:
        index = member.params.get("index", 0)
        others = sorted(set(member.params) - {"index"})
        if others:
            return [f"{kind} takes only 'index', not {', '.join(map(repr, others))}"]
        if type(index) is not int or index < 0:
            return [f"index: must be a non-negative int, got {show_value(index)}"]
        if repeat != 1:
            return [f"a {kind} cannot be repeated"]
        return []
    problems = []
    if kind in library:
        block = library[kind]
        for name in member.params:
            if name not in block.params:
                hint = did_you_mean(str(name), block.params)
                problems.append(f"{kind} has no param {clip_text(repr(name), 80)}{hint}")
        if repeat != 1 and (block.inputs, block.outputs) != (1, 1):
            problems.append(
                f"repeat needs a block with one input and one output; {kind} has "
                f"{block.inputs} and {block.outputs}"
            )
    elif kind in library.catalog:
        spec = library.catalog[kind]
        fewest, most = spec.inputs
        if repeat != 1 and not (fewest <= 1 and (most is None or most >= 1)):
            problems.append(f"repeat needs a layer that takes one input; {kind} does not")
        # a block no instance uses yet is checked too: its file must read back
        problems += [str(error) for error in layer_param_problems(spec, member.params)]
    else:
        known = [*library.catalog, *library.blocks]
        hint = did_you_mean(str(kind)[:200], known)
        return [f"unknown layer or block type {clip_text(repr(kind), 80)}{hint}"]
    if not is_expr(repeat) and (type(repeat) is not int or repeat < 1):
        problems.append(f"repeat: must be an int ≥ 1, got {show_value(repeat)}")
    return problems


def layer_param_problems(spec: LayerSpec, params: Mapping[str, Any]) -> list[ParamError]:
    """What a layer's type refuses in its params. Where a value is an expression, only
    what shows without the block's params: unknown names, missing required ones and each
    plain value; flattening checks the rest, by path."""
    if not any(map(holds_expr, params.values())):
        return spec.examine(dict(params))[1]
    problems = []
    for key, value in params.items():
        param = spec.by_name.get(key)
        if param is None:
            hint = did_you_mean(key, spec.by_name)
            problems.append(ParamError(key, f"{spec.name} has no parameter {key!r}{hint}"))
        elif not holds_expr(value):
            try:
                param.check(value)
            except ParamError as error:
                problems.append(error)
    problems += [
        ParamError(p.name, f"is required ({p.describe()})")
        for p in spec.params
        if p.required and p.name not in params
    ]
    return problems


def _name_problems(member: Member, names: frozenset[str] | None) -> list[str]:
    """Expressions that do not parse, or read names that are not the block's params."""
    problems = []
    values = [*member.params.items(), ("repeat", repeat_of(member))]
    for param, value in values:
        try:
            found = expressions(value)
        except ExprError as error:
            problems.append(f"{param}: {error}")
            continue
        for expr in found:
            for name in sorted(expr.names - (names or frozenset())):
                if names is None:
                    problems.append(
                        f"{param}: {expr.text}: {name} is not a param; expressions read the "
                        "params of the block they are in"
                    )
                else:
                    hint = did_you_mean(name, names)
                    known = ", ".join(sorted(names)) or "none"
                    problems.append(
                        f"{param}: {expr.text}: {name} is not a param of the block{hint} "
                        f"(its params: {known})"
                    )
    return problems


def _edge_problems(
    where: str, ends: dict[str, Member], edges: Sequence[EdgeRecord], library: Library
) -> list[str]:
    problems = []
    fed: set[tuple[str, int]] = set()
    for edge in edges:
        source, target = ends.get(edge.source), ends.get(edge.target)
        at = f"{where}, edge {edge.source} → {edge.target}"
        if source is None or target is None:
            missing = edge.source if source is None else edge.target
            problems.append(f"{at}: there is no node {clip_text(repr(missing), 80)}")
            continue
        for name, number in (("port", edge.port), ("output", edge.output)):
            if type(number) is not int or number < 0:
                problems.append(f"{at}: {name} must be a non-negative int, got {number!r}")
                break
        else:
            problems += [f"{at}: {p}" for p in _end_problems(source, target, edge, library)]
            if (edge.target, edge.port) in fed:
                problems.append(f"{at}: input port {edge.port} of {edge.target} is fed twice")
            fed.add((edge.target, edge.port))
    return problems


def _end_problems(source: Member, target: Member, edge: EdgeRecord, library: Library) -> list[str]:
    """Whether an edge's ends have the output slot and input port it names."""
    problems = []
    if target.type == BLOCK_INPUT:
        problems.append("a BlockInput takes no input: it is fed by what feeds the instance")
    if source.type == BLOCK_OUTPUT:
        problems.append("a BlockOutput feeds nothing inside: it is read outside the instance")
    if target.type == BLOCK_OUTPUT and edge.port != 0:
        problems.append("a BlockOutput takes one input, on port 0")
    if source.type == BLOCK_INPUT and edge.output != 0:
        problems.append("a BlockInput has one output, 0")
    if source.type in library and edge.output >= library[source.type].outputs:
        count = library[source.type].outputs
        problems.append(
            f"reads output {edge.output} of {source.id}, a {source.type} with {count} output"
            + ("" if count == 1 else "s")
        )
    if target.type in library and edge.port >= library[target.type].inputs:
        count = library[target.type].inputs
        problems.append(
            f"feeds input {edge.port} of {target.id}, a {target.type} with {count} input"
            + ("" if count == 1 else "s")
        )
    if repeat_of(target) != 1 and edge.port != 0:
        problems.append(f"{target.id} is repeated: it takes one input, on port 0")
    if repeat_of(source) != 1 and edge.output != 0:
        problems.append(f"{source.id} is repeated: its copies chain through output 0 alone")
    return problems


def _port_problems(
    where: str, ends: dict[str, Member], edges: Sequence[EdgeRecord], inside: bool
) -> list[str]:
    """BlockInput/BlockOutput belong in blocks; their indices are 0, 1, … once each, and
    every BlockOutput is fed."""
    problems = []
    fed = {edge.target for edge in edges}
    for kind in PORT_TYPES:
        ports = [m for m in ends.values() if m.type == kind]
        if ports and not inside:
            problems.append(f"{where}, {ports[0].id}: a {kind} belongs inside a block")
            continue
        indices = [m.params.get("index", 0) for m in ports]
        if all(type(i) is int for i in indices) and sorted(indices) != list(range(len(ports))):
            indices.sort()
            problems.append(
                f"{where}: the {kind} indices are {', '.join(map(str, indices))}; "
                f"they must be 0 to {len(indices) - 1}, each once"
            )
        if kind == BLOCK_OUTPUT:
            problems += [
                f"{where}, {m.id}: nothing feeds this BlockOutput" for m in ports if m.id not in fed
            ]
    return problems


def scope_order(members: Sequence[Member], edges: Sequence[EdgeRecord]) -> list[Member]:
    """Nodes each after those that feed it, file order breaking ties."""
    position = {member.id: i for i, member in enumerate(members)}
    graph = nx.DiGraph()
    graph.add_nodes_from(position)
    graph.add_edges_from((e.source, e.target) for e in edges)
    order = nx.lexicographical_topological_sort(graph, key=position.__getitem__)
    return [members[position[node_id]] for node_id in order]


def incoming(edges: Sequence[EdgeRecord]) -> dict[str, list[EdgeRecord]]:
    """Edges by target."""
    found: dict[str, list[EdgeRecord]] = {}
    for edge in edges:
        found.setdefault(edge.target, []).append(edge)
    return found
