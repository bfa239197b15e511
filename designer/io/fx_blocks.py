"""Blocks from an import: the user's own nn.Module classes kept as block definitions.

The mapping (designer.io.fx_mapping) gives a flat design; each of its nodes lies inside
calls of the model's submodules (the trace's module stack). A call of a user's class (not
torch's, not the model itself) is a *use*. A class used more than once becomes blocks: its
uses are compared by what lies inside each (layer types, edges, ports), and each distinct
structure is one block definition, the first use's layers with what differs between the
uses (channel counts, strides) as block params, the first use's values their defaults.
Values that differ alike are one param; one that is a whole multiple of another is written
as an expression of it (`out_channels * 4`). Every use becomes an instance carrying its own
values, and a chain of instances of one block with equal values one instance repeated.
Inner classes are decided first, so a block may hold instances of another.

What a block cannot hold stays flat: a use with a Custom node, with weights shared with a
call elsewhere, of fewer than two layers, without an input or an output, or one whose
layers another part of the design passes between; a module called more than once.
The result flattens to exactly the flat design (the same layers, params and edges, ids
becoming paths), or there are no blocks at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from designer.core import registry
from designer.core.block_flatten import Flat, flatten
from designer.core.blocks import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    PORT_TYPES,
    BlockDef,
    BlockError,
    Instance,
    Library,
    Member,
)
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.layout import layered_positions
from designer.io.block_params import Slot, fresh_name, solve_params
from designer.io.project_format import BlockDesign

MIN_LAYERS = 2  # a class that wraps a single layer stays that layer

Exit = tuple[str, int]  # a flat node's output slot


@dataclass(frozen=True)
class Use:
    """One call of a user's module: its path in the model and its class."""

    path: str
    kind: type


@dataclass(frozen=True)
class Place:
    """Where a design node comes from: the uses it lies in, outermost first, and the
    module path its fx node calls or reads (None for a function or a method)."""

    uses: tuple[Use, ...] = ()
    target: str | None = None


Unit = str | Use  # a member of a scope: a design node's id, or a use made an instance


@dataclass(frozen=True)
class _Content:
    """What lies in a use (or the whole design): its members in trace order, the edges
    between them (source index, output slot, target index, input port), which input feeds
    which member port, and which members' outputs are read outside."""

    units: list[Unit]
    edges: list[tuple[int, int, int, int]]
    fed: list[tuple[int, int, int]]  # (member index, port, input index)
    inputs: list[Exit]  # the flat output that feeds each input
    outputs: list[tuple[int, int]]  # (member index, slot) of each output
    exits: list[Exit]  # the flat output each output is


@dataclass(frozen=True)
class _Made:
    """A use made an instance: its block, its params, and the flat outputs that feed its
    inputs and that its outputs are."""

    block: str
    params: dict[str, Any]
    inputs: list[Exit]
    exits: list[Exit]


def places(arch: Architecture, graph: Any, origins: Mapping[str, Any]) -> dict[str, Place]:
    """Each design node's Place, from the fx `graph` the mapping read (its nodes' module
    stacks) and the mapping's `origins` (design node → the fx node it does). A node made
    for part of a call (a slice of x[1:, :2]) is placed with that call; the Identity
    that gives back a result of forward lies in no use."""
    fx = {node.name: node for node in graph.nodes}
    again = {path for node in graph.nodes for key, (path, _) in _stack(node) if "@" in key}
    found = {}
    for record in arch.nodes():
        node = origins.get(record.id)
        node = _maker(record.id, fx) if node is None else node
        if node is None or (record.name or "").startswith("output "):
            found[record.id] = Place()
            continue
        uses = tuple(
            Use(path, kind)
            for _, (path, kind) in _stack(node)
            if path not in again and getattr(kind, "__module__", "torch").split(".")[0] != "torch"
        )
        target = node.target if node.op in ("call_module", "get_attr") else None
        found[record.id] = Place(uses, target)
    return found


def _stack(node: Any) -> list[tuple[str, tuple[str, Any]]]:
    return list((node.meta.get("nn_module_stack") or {}).items())


def _maker(node_id: str, fx: Mapping[str, Any]) -> Any:
    """The fx node a design node was made for: the one of its id, else of the longest
    start of its id that ends before a '_' or a '.' (`getitem_3_slice`, `unbind.0`)."""
    if node_id in fx:
        return fx[node_id]
    for end in range(len(node_id) - 1, 0, -1):
        if node_id[end] in "_." and node_id[:end] in fx:
            return fx[node_id[:end]]
    return None


def block_design(arch: Architecture, found: Mapping[str, Place]) -> BlockDesign | None:
    """The flat design `arch` with the user's classes as blocks (see the module's
    docstring), each node placed by `found`; None where no class makes a block, or
    where the blocks would not flatten to `arch` exactly."""
    return _Grouper(arch, found).design()


class _Grouper:
    """Decides, class by class from the innermost, which uses become instances."""

    def __init__(self, arch: Architecture, found: Mapping[str, Place]) -> None:
        self.arch = arch
        self.records = {record.id: record for record in arch.nodes()}
        self.places = {node_id: found.get(node_id, Place()) for node_id in self.records}
        self.ins: dict[str, list[EdgeRecord]] = {node_id: [] for node_id in self.records}
        self.outs: dict[str, list[EdgeRecord]] = {node_id: [] for node_id in self.records}
        for edge in arch.edges():
            self.ins[edge.target].append(edge)
            self.outs[edge.source].append(edge)
        order = nx.topological_sort(nx.DiGraph([(e.source, e.target) for e in arch.edges()]))
        self.position = {node_id: i for i, node_id in enumerate(order)}
        self.sharing = {n for r in self.records.values() if r.shares for n in (r.id, r.shares)}
        self.under: dict[Use, list[str]] = {}  # the nodes inside each use, in file order
        self.ancestors: dict[Use, tuple[Use, ...]] = {}
        for node_id, place in self.places.items():
            for depth, use in enumerate(place.uses):
                self.under.setdefault(use, []).append(node_id)
                self.ancestors[use] = place.uses[:depth]
        self.made: dict[Use, _Made] = {}
        self.segment: dict[Unit, str] = {}  # each unit's id in the scope that holds it
        self.blocks: list[BlockDef] = []

    def design(self) -> BlockDesign | None:
        for kind in self._classes():
            self._decide(kind)
        if not self.blocks:
            return None
        content = self._content(None)
        ids = self._top_ids(content.units)
        members = [self._top_member(unit, node_id) for unit, node_id in zip(content.units, ids)]
        edges = [EdgeRecord(ids[s], ids[t], port, slot) for s, slot, t, port in content.edges]
        members, edges, copies = _repeats(members, edges, self.blocks)
        for unit, node_id in zip(content.units, ids):
            self.segment[unit] = copies.get(node_id, node_id)
        try:
            library = Library(self.blocks)
            flat = flatten(members, edges, library)
        except BlockError:
            return None
        if not self._same(flat):
            return None
        flat = replace(flat, nodes=tuple(replace(n, pos=None) for n in flat.nodes))
        return BlockDesign(library, tuple(_placed(members, edges)), tuple(edges), flat)

    # which uses, in which order -------------------------------------------------------------

    def _classes(self) -> list[type]:
        """The user's classes, each after those its uses hold."""
        height: dict[Use, int] = {}
        for use in sorted(self.under, key=lambda u: -len(self.ancestors[u])):
            height.setdefault(use, 1)
            if self.ancestors[use]:
                parent = self.ancestors[use][-1]
                height[parent] = max(height.get(parent, 1), height[use] + 1)
        tallest: dict[type, int] = {}
        for use in self.under:
            tallest[use.kind] = max(tallest.get(use.kind, 0), height[use])
        return sorted(tallest, key=tallest.__getitem__)

    def _decide(self, kind: type) -> None:
        """Blocks for the uses of `kind` not already inside an instance, where it has two."""
        uses = [u for u in self.under if u.kind == kind]
        uses = [
            u for u in uses if not any(a in self.made or a.kind == kind for a in self.ancestors[u])
        ]
        contents = {u: c for u in uses if (c := self._usable(u)) is not None}
        if len(contents) < 2:
            return
        groups: dict[Any, list[Use]] = {}
        for use, content in contents.items():
            groups.setdefault(self._signature(content), []).append(use)
        for block_id, group in zip(self._block_ids(kind, groups, contents), groups.values()):
            self._define(block_id, group, contents)

    def _usable(self, use: Use) -> _Content | None:
        """What lies in `use`, where a block can hold it."""
        nodes = self.under[use]
        if len(nodes) < MIN_LAYERS or any(
            self.records[n].type == "Custom" or n in self.sharing for n in nodes
        ):
            return None
        content = self._content(use)
        if not content.inputs or not content.exits or not self._convex(nodes):
            return None
        return content

    def _convex(self, nodes: list[str]) -> bool:
        """Whether no path leaves these nodes and comes back: as one node, they make no
        cycle."""
        inside = set(nodes)
        last = max(self.position.get(n, 0) for n in nodes)
        todo = [e.target for n in nodes for e in self.outs[n] if e.target not in inside]
        seen: set[str] = set()
        while todo:
            node_id = todo.pop()
            if node_id in seen or self.position[node_id] > last:
                continue
            if node_id in inside:
                return False
            seen.add(node_id)
            todo += [e.target for e in self.outs[node_id]]
        return True

    # what lies in a use ---------------------------------------------------------------------

    def _unit(self, node_id: str, scope: Use | None) -> Unit:
        """The member of `scope` that holds a node: the outermost instance inside `scope`
        around it, else the node itself."""
        uses = self.places[node_id].uses
        start = 0 if scope is None else uses.index(scope) + 1
        return next((u for u in uses[start:] if u in self.made), node_id)

    def _content(self, scope: Use | None) -> _Content:
        nodes = list(self.records) if scope is None else self.under[scope]
        inside = set(nodes)
        units: dict[Unit, int] = {}
        for node_id in nodes:
            units.setdefault(self._unit(node_id, scope), len(units))
        edges: set[tuple[int, int, int, int]] = set()
        fed: dict[tuple[int, int], Exit] = {}
        read: dict[tuple[int, int], Exit] = {}
        for node_id in nodes:
            here = units[self._unit(node_id, scope)]
            if scope is not None and not self.outs[node_id]:  # a result of the design
                for exit in self._results(node_id):
                    read[(here, self._slot(node_id, scope, exit))] = exit
            for edge in self.outs[node_id]:
                there = units.get(self._unit(edge.target, scope)) if edge.target in inside else None
                if there == here:
                    continue
                exit = (edge.source, edge.output)
                slot = self._slot(node_id, scope, exit)
                if there is None:
                    read[(here, slot)] = exit
                else:
                    edges.add((here, slot, there, self._port(edge, scope)))
            for edge in self.ins[node_id]:
                if edge.source not in inside:
                    fed[(here, self._port(edge, scope))] = (edge.source, edge.output)
        inputs = list(dict.fromkeys(fed[key] for key in sorted(fed)))
        outputs = sorted(read)
        return _Content(
            list(units),
            sorted(edges),
            [(i, port, inputs.index(fed[(i, port)])) for i, port in sorted(fed)],
            inputs,
            outputs,
            [read[key] for key in outputs],
        )

    def _results(self, node_id: str) -> list[Exit]:
        """The outputs of a node that feeds nothing: results of the design."""
        slots = self.arch.spec(node_id).output_names(self.records[node_id].params)
        return [(node_id, slot) for slot in range(len(slots))]

    def _slot(self, node_id: str, scope: Use | None, exit: Exit) -> int:
        """The output slot of the member holding `node_id` that `exit` is."""
        unit = self._unit(node_id, scope)
        return self.made[unit].exits.index(exit) if isinstance(unit, Use) else exit[1]

    def _port(self, edge: EdgeRecord, scope: Use | None) -> int:
        """The input port of the member holding the edge's target that the edge feeds."""
        unit = self._unit(edge.target, scope)
        if isinstance(unit, Use):
            return self.made[unit].inputs.index((edge.source, edge.output))
        return edge.port

    def _signature(self, content: _Content) -> Any:
        """What two uses of one structure share: member types, edges and ports (values
        aside; a count taken from the input in one use and written in another differs)."""
        kinds = tuple(
            ("", self.made[u].block)
            if isinstance(u, Use)
            else (self.records[u].type, tuple(sorted(set(self._written(u)) & self._from_input(u))))
            for u in content.units
        )
        return kinds, tuple(content.edges), tuple(content.fed), tuple(content.outputs)

    # a block and its instances --------------------------------------------------------------

    def _define(self, block_id: str, uses: list[Use], contents: Mapping[Use, _Content]) -> None:
        """One block for uses of one structure; each use its instance."""
        first = contents[uses[0]]
        ins, outs = len(first.inputs), len(first.exits)
        ports = [_port_node(BLOCK_INPUT, i, ins) for i in range(ins)]
        slots = [_port_node(BLOCK_OUTPUT, j, outs) for j in range(outs)]
        local = self._local_ids(uses[0], first.units, {m.id for m in ports + slots})
        vectors = self._vectors([contents[use].units for use in uses])
        params, given = solve_params(vectors, local)
        members: list[Member] = list(ports)
        for k, unit in enumerate(first.units):
            written = {
                key: given.get((k, key), vector[0])
                for (index, key), vector in vectors.items()
                if index == k and ((k, key) in given or not self._is_default(unit, key, vector[0]))
            }
            if isinstance(unit, Use):
                members.append(Instance(local[k], self.made[unit].block, written))
            else:
                members.append(NodeRecord(local[k], self.records[unit].type, written))
        members += slots
        edges = [EdgeRecord(ports[i].id, local[k], port) for k, port, i in first.fed]
        edges += [EdgeRecord(local[s], local[t], port, slot) for s, slot, t, port in first.edges]
        edges += [EdgeRecord(local[k], slots[j].id, 0, o) for j, (k, o) in enumerate(first.outputs)]
        members, edges, copies = _repeats(members, edges, self.blocks)
        defaults = {name: vector[0] for name, vector in params.items()}
        self.blocks.append(BlockDef(block_id, defaults, _placed(members, edges), edges))
        for i, use in enumerate(uses):
            content = contents[use]
            own = {name: vector[i] for name, vector in params.items()}
            self.made[use] = _Made(block_id, own, content.inputs, content.exits)
            for k, unit in enumerate(content.units):
                self.segment[unit] = copies.get(local[k], local[k])

    def _vectors(self, uses: list[list[Unit]]) -> dict[Slot, tuple[Any, ...]]:
        """Each member's values (by index, the members of every use alike), in every use:
        a value left out is the layer's default."""
        vectors: dict[Slot, tuple[Any, ...]] = {}
        for k, unit in enumerate(uses[0]):
            values = [self._values(units[k]) for units in uses]
            keys = {key for found in values for key in found}
            for key in sorted(keys, key=self._order(unit, values[0])):
                vectors[(k, key)] = tuple(
                    found[key] if key in found else self._default(unit, key) for found in values
                )
        return vectors

    def _values(self, unit: Unit) -> dict[str, Any]:
        """A member's values: an instance's params, a layer's written params."""
        return dict(self.made[unit].params) if isinstance(unit, Use) else self._written(unit)

    def _order(self, unit: Unit, first: Mapping[str, Any]) -> Any:
        """Params in the order a layer's type lists them (an instance's: the first use's)."""
        names = list(first) if isinstance(unit, Use) else list(self.arch.spec(unit).by_name)
        return names.index

    def _written(self, node_id: str) -> dict[str, Any]:
        record = self.records[node_id]
        return {k: _plain(v) for k, v in self.arch.spec(node_id).explicit(record.params).items()}

    def _from_input(self, node_id: str) -> set[str]:
        """A layer's params that, left out, come from its input (in_channels)."""
        return {
            p.name
            for p in self.arch.spec(node_id).params
            if p.inferred or (p.from_input is not None and p.default is None)
        }

    def _default(self, node_id: str, key: str) -> Any:
        return _plain(self.arch.spec(node_id).by_name[key].default)

    def _is_default(self, unit: Unit, key: str, value: Any) -> bool:
        """Whether a layer's value is its type's default, which a file leaves out (an
        instance writes every value)."""
        if isinstance(unit, Use):
            return False
        param = self.arch.spec(unit).by_name[key]
        return not param.required and value == _plain(param.default)

    # names ----------------------------------------------------------------------------------

    def _block_ids(
        self, kind: type, groups: Mapping[Any, list[Use]], contents: Mapping[Use, _Content]
    ) -> list[str]:
        """A block id per group of uses: the class's name for the largest, the name and a
        module only its uses hold for another (BottleneckDownsample), else a number."""
        taken = {b.id for b in self.blocks}
        base = _cap_words(kind.__name__) or "Block"
        if base in registry.LAYERS or base in PORT_TYPES:
            base += "Block"
        largest = max(groups.values(), key=len)
        held = {self._attribute(u, largest[0]) for u in contents[largest[0]].units}
        ids = []
        for group in groups.values():
            name = base
            if group is not largest:
                own = [self._attribute(u, group[0]) for u in contents[group[0]].units]
                extra = next((a for a in own if a and a not in held), "")
                name = base + _cap_words(extra)
            ids.append(fresh_name(name, taken))
        return ids

    def _attribute(self, unit: Unit, use: Use) -> str | None:
        """The attribute of `use`'s module that a member lies in (`downsample`), if any."""
        path = unit.path if isinstance(unit, Use) else self.places[unit].target
        if path is None or not path.startswith(use.path + "."):
            return None
        return path[len(use.path) + 1 :].split(".")[0]

    def _local_ids(self, use: Use, units: Sequence[Unit], taken: set[str]) -> list[str]:
        """Ids for a use's members inside its block, besides the `taken` ports': module
        paths below the use's (downsample_0), functions by their fx names without the
        number (add, relu)."""
        ids = []
        for unit in units:
            if isinstance(unit, Use):
                stem = unit.path[len(use.path) + 1 :]
            else:
                target = self.places[unit].target
                if target is not None and target.startswith(use.path + "."):
                    stem = target[len(use.path) + 1 :]
                else:
                    stem = re.sub(r"_\d+$", "", unit)
            stem = re.sub(r"[^\w]", "_", stem).strip("_") or "node"
            ids.append(fresh_name(stem, taken, "_"))
        return ids

    def _top_ids(self, units: Sequence[Unit]) -> list[str]:
        """Ids at the top level: a layer keeps its own; an instance takes its module's path
        (layer1_0), made distinct from the layers'."""
        taken = {u for u in units if isinstance(u, str)}
        return [
            u if isinstance(u, str) else fresh_name(re.sub(r"\W", "_", u.path), taken, "_")
            for u in units
        ]

    def _top_member(self, unit: Unit, node_id: str) -> Member:
        if isinstance(unit, Use):
            made = self.made[unit]
            return Instance(node_id, made.block, dict(made.params), name=unit.path)
        record = self.records[unit]
        params = self._written(unit)
        return NodeRecord(node_id, record.type, params, record.name, shares=record.shares)

    # the check ------------------------------------------------------------------------------

    def _path(self, node_id: str) -> str:
        """A design node's id once the blocks are flattened."""
        outer = [self.segment[u] for u in self.places[node_id].uses if u in self.made]
        return ".".join([*outer, self.segment[node_id]])

    def _same(self, flat: Flat) -> bool:
        """Whether the blocks flatten to the design: the same layers, params and edges."""
        paths = {node_id: self._path(node_id) for node_id in self.records}
        if len(set(paths.values())) != len(paths) or len(flat.nodes) != len(paths):
            return False
        by_path = {node.id: node for node in flat.nodes}
        for node_id, path in paths.items():
            record, node = self.records[node_id], by_path.get(path)
            if node is None or node.type != record.type:
                return False
            spec = self.arch.spec(node_id)
            if _plain(spec.explicit(spec.examine(dict(node.params))[0])) != self._written(node_id):
                return False
            if node.shares != (record.shares and paths[record.shares]):
                return False
        edges = {
            EdgeRecord(paths[e.source], paths[e.target], e.port, e.output)
            for e in self.arch.edges()
        }
        return edges == set(flat.edges)


def _repeats(
    members: list[Member], edges: list[EdgeRecord], blocks: Sequence[BlockDef]
) -> tuple[list[Member], list[EdgeRecord], dict[str, str]]:
    """Chains of instances of one block (one input, one output) with equal params, each
    feeding only the next, as one instance repeated; the new path of each merged one
    (`layer1_1.0`, `layer1_1.1`)."""
    chained = {b.id for b in blocks if (b.inputs, b.outputs) == (1, 1)}
    by_id = {m.id: m for m in members}
    ins, outs = Counter(e.target for e in edges), {}
    for edge in edges:
        outs.setdefault(edge.source, []).append(edge.target)

    def after(member: Member) -> Member | None:
        """The instance `member` alone feeds, where it is a copy of `member`."""
        targets = outs.get(member.id, [])
        if len(targets) != 1 or ins[targets[0]] != 1:
            return None
        found = by_id[targets[0]]
        same = (found.type, dict(found.params)) == (member.type, dict(member.params))
        return found if same and isinstance(found, Instance) else None

    head: dict[str, str] = {}  # each merged instance → the one that stands for the chain
    copies: dict[str, str] = {}
    kept: list[Member] = []
    for member in members:
        if member.id in head:
            continue
        chain = [member]
        if isinstance(member, Instance) and member.type in chained:
            while (found := after(chain[-1])) is not None:
                chain.append(found)
        if len(chain) == 1:
            kept.append(member)
            continue
        name = f"{chain[0].name} to {chain[-1].name}" if chain[0].name else None
        kept.append(replace(member, repeat=len(chain), name=name))
        for k, copy in enumerate(chain):
            head[copy.id] = member.id
            copies[copy.id] = f"{member.id}.{k}"
    rewired = [
        replace(e, source=head.get(e.source, e.source), target=head.get(e.target, e.target))
        for e in edges
        if e.source not in head or head.get(e.target) != head[e.source]
    ]
    return kept, rewired, copies


def _port_node(kind: str, index: int, count: int) -> NodeRecord:
    """BlockInput `index` of `count`, `x` (or `x0`, `x1` …), or a BlockOutput `y` (`y0` …)."""
    name = "x" if kind == BLOCK_INPUT else "y"
    node_id = name if count == 1 else f"{name}{index}"
    return NodeRecord(node_id, kind, {"index": index} if index else {})


def _placed(members: Sequence[Member], edges: Iterable[EdgeRecord]) -> list[Member]:
    """Members with positions: rows by topological generation."""
    graph = nx.MultiDiGraph()
    for seq, member in enumerate(members):
        graph.add_node(member.id, seq=seq)
    graph.add_edges_from((e.source, e.target) for e in edges)
    positions = layered_positions(graph)
    return [replace(m, pos=positions[m.id]) for m in members]


def _cap_words(text: str) -> str:
    """`se_layer` → SeLayer: a block id's letters and digits, a capital first."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    joined = "".join(w[0].upper() + w[1:] for w in words)
    return joined if joined[:1].isalpha() else ""


def _plain(value: Any) -> Any:
    """Tuples as lists, as a file holds them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
