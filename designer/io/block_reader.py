"""Reading a design with blocks or repeated nodes (contract 1b): the slow path, which only
such files take. Each block's nodes and edges and the top level's are checked where they are
written, then the blocks together and the flattening, every problem said at its place."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from designer.core import registry
from designer.core.blocks import (
    BLOCK_INPUT,
    PORT_TYPES,
    BlockDef,
    BlockError,
    Instance,
    Library,
    Member,
    layer_param_problems,
)
from designer.core.expr import holds_expr
from designer.core.graph import EdgeRecord, NodeRecord
from designer.core.params import ParamError, clip_text, did_you_mean, show_value
from designer.core.spec import LayerSpec
from designer.io.project_format import (
    BLOCK_KEYS,
    EDGE_KEYS,
    MAX_COORDINATE,
    MAX_ID_LENGTH,
    MEMBER_KEYS,
    BlockDesign,
    Project,
    ProjectError,
    is_point,
    key_place,
    kind_of,
    on_canvas,
    several_inputs,
)

if TYPE_CHECKING:  # the reader of the file, whose problems and notes this one adds to
    from designer.io.project import _Reader


@dataclass
class _Scope:
    """One block's inside, or the top level, as read: its members and edges, and where each
    is in the file, so that a problem found later is said at its place."""

    place: str  # what comes before `nodes[3]`: "blocks[0]." or ""
    block_id: str | None = None  # None for the top level, or a block without a good id
    params: dict[str, Any] = field(default_factory=dict)
    raw_edges: list[Any] | None = None
    members: dict[str, Member] = field(default_factory=dict)  # by id, in file order
    edges: list[EdgeRecord] = field(default_factory=list)
    node_places: dict[str, int] = field(default_factory=dict)  # id → index in the file
    edge_places: dict[str, list[int]] = field(default_factory=dict)  # "a → b" → indices
    slots: dict[int, tuple[int, int]] = field(default_factory=dict)  # index → (port, output)
    faulty: set[str] = field(default_factory=set)  # ids of nodes not read: edges say nothing
    problems: list[str] = field(default_factory=list)

    def placed(self, rest: str) -> str | None:
        """`rest`, what follows `block B, ` or `the design, ` in a problem, at the place of
        the block param, node (and its param or `repeat`) or edge it starts with; None
        where it names none of them."""
        if rest.startswith("param "):
            for name in self.params:
                lead = f"param {clip_text(repr(name), 80)}: "
                if rest.startswith(lead):
                    return f"{key_place(self.place + 'params', name)}: {rest[len(lead) :]}"
        if rest.startswith("edge "):
            found = _lead(rest[5:], self.edge_places)
            if found is not None:
                return f"{self.place}edges[{self._edge_index(*found)}]: {found[1]}"
        found = _lead(rest, self.node_places)
        if found is None:
            return None
        node_id, message = found
        place = f"{self.place}nodes[{self.node_places[node_id]}]"
        inner = _lead(message, {*self.members[node_id].params, "repeat"})
        if inner is None:
            return f"{place}: {message}"
        key, message = inner
        where = f"{place}.repeat" if key == "repeat" else key_place(f"{place}.params", key)
        return f"{where}: {message}"

    def _edge_index(self, ends: str, message: str) -> int:
        """The edge between `ends` ("a → b") that `message` is about: of several between
        the same nodes, the one whose port or output it names, else one not at port and
        output 0 (each refusal of one of several such edges is of a port or an output)."""
        indices = self.edge_places[ends]
        if len(indices) == 1:
            return indices[0]
        slots = self.slots
        named = [
            i
            for i in indices
            if f"input {slots[i][0]} " in message or f"output {slots[i][1]} " in message
        ]
        odd = [i for i in indices if slots[i] != (0, 0)]
        return (named or odd or indices)[0]


def _lead(text: str, known: Container[str]) -> tuple[str, str] | None:
    """(lead, rest) where `text` is `lead: rest` for a lead in `known` (the shortest)."""
    at = text.find(": ")
    while at >= 0:
        if text[:at] in known:
            return text[:at], text[at + 2 :]
        at = text.find(": ", at + 1)
    return None


class BlockReader:
    """Reads a design with blocks or repeated nodes (contract 1b): the slow path, which only
    such files take. Each block's nodes and edges and the top level's are checked where
    they are written, every problem said at its place; then the blocks together
    (designer.core.blocks) and the flattening check what spans them, each problem again
    said at the place it concerns (`blocks[0].nodes[2].params.out_channels: …`), or by path
    (`stage1.first.c2: …`) where an instance's values cause it."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.block_ids: set[str] = set()  # the types that are blocks of this file
        self.inputs: dict[str, int] = {}  # each block's input ports

    def read(
        self, doc: dict[str, Any], name: str, raw_nodes: list[Any] | None, raw_edges: Any
    ) -> Project:
        from designer.core.block_flatten import flatten

        raw_blocks = doc.get("blocks", [])
        if not isinstance(raw_blocks, list):
            self.reader.problems.append(f"blocks: must be a list, got {kind_of(raw_blocks)}")
            raw_blocks = []
        self.block_ids = {
            item["id"]
            for item in raw_blocks
            if isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and item["id"] not in registry.LAYERS
        }
        top = _Scope("")
        self._members(top, raw_nodes or [])
        seen: dict[str, int] = {}
        blocks = [self._block(index, item, seen) for index, item in enumerate(raw_blocks)]
        self.inputs = {
            scope.block_id: sum(m.type == BLOCK_INPUT for m in scope.members.values())
            for scope in blocks
            if scope.block_id is not None
        }
        if raw_nodes is not None:  # without nodes every edge would dangle: nothing to say
            self._edges(top, raw_edges or [])
        for scope in blocks:
            self._edges(scope, scope.raw_edges or [])
        for scope in (top, *blocks):
            self.reader.problems += scope.problems
        if self.reader.problems:
            raise ProjectError(self.reader.problems)
        try:
            library = Library(
                BlockDef(s.block_id, s.params, tuple(s.members.values()), s.edges) for s in blocks
            )
            flat = flatten(tuple(top.members.values()), top.edges, library)
            if flat.instances:  # inner nodes hold their block's positions: laid out afresh
                flat = replace(flat, nodes=tuple(replace(n, pos=None) for n in flat.nodes))
            arch = flat.architecture(name)
        except BlockError as error:
            raise ProjectError([_placed(p, top, blocks) for p in error.problems]) from None
        design = BlockDesign(library, tuple(top.members.values()), tuple(top.edges), flat)
        return Project(arch, self.reader._extras(doc), self.reader.notes, design)

    def _block(self, index: int, item: Any, seen: dict[str, int]) -> _Scope:
        """A block's id, params and nodes (its edges are read once every block's ports are
        known); `seen` holds the ids read before, by index."""
        place = f"blocks[{index}]"
        scope = _Scope(f"{place}.")
        say = scope.problems.append
        if not isinstance(item, dict):
            say(f"{place}: must be an object, got {kind_of(item)}")
            return scope
        block_id = item.get("id")
        if "id" not in item:
            say(f"{place}.id: missing")
        elif not isinstance(block_id, str):
            say(f"{place}.id: must be a string, got {kind_of(block_id)}")
        elif block_id in seen:
            say(f"{place}.id: duplicate id {show_value(block_id)} (also blocks[{seen[block_id]}])")
        else:
            seen[block_id] = index
            scope.block_id = block_id
        params = item.get("params")
        if isinstance(params, dict):
            scope.params = params
        elif params is not None:
            say(f"{place}.params: must be an object, got {kind_of(params)}")
        for key in item:
            if key not in BLOCK_KEYS:
                self.reader.notes.append(
                    f"{key_place(place, key)}: not read by this version; dropped"
                )
        for key in ("nodes", "edges"):
            if key not in item:
                say(f"{place}.{key}: missing (a list is required)")
            elif not isinstance(item[key], list):
                say(f"{place}.{key}: must be a list, got {kind_of(item[key])}")
        nodes = item.get("nodes")
        self._members(scope, nodes if isinstance(nodes, list) else [])
        edges = item.get("edges")
        scope.raw_edges = edges if isinstance(edges, list) else []
        return scope

    def _members(self, scope: _Scope, raw: list[Any]) -> None:
        for index, item in enumerate(raw):
            place = f"{scope.place}nodes[{index}]"
            member = self._member(scope, place, item)
            if member is None:
                continue
            if member.id in scope.node_places:
                other = scope.node_places[member.id]
                scope.problems.append(
                    f"{place}.id: duplicate id {show_value(member.id)} "
                    f"(also {scope.place}nodes[{other}])"
                )
                continue
            scope.node_places[member.id] = index
            scope.members[member.id] = member

    def _member(self, scope: _Scope, place: str, item: Any) -> Member | None:
        """A layer, a port, an instance of a block or a repeated node; None, with every
        problem said, where it has one."""
        say = scope.problems.append
        if not isinstance(item, dict):
            say(f"{place}: must be an object, got {kind_of(item)}")
            return None
        problems = len(scope.problems)
        node_id = item.get("id")
        if not isinstance(node_id, str) or not node_id:
            got = "nothing" if "id" not in item else show_value(node_id)
            say(f"{place}.id: must be a non-empty string, got {got}")
        elif len(node_id) > MAX_ID_LENGTH:
            say(
                f"{place}.id: {len(node_id):,} characters long, more than the "
                f"{MAX_ID_LENGTH:,} an id may have: {show_value(node_id)}"
            )
        elif scope.place and "." in node_id:
            say(
                f"{place}.id: an id inside a block may not hold '.', which joins the parts of a path"
            )
        type_name = item.get("type")
        is_block = isinstance(type_name, str) and type_name in self.block_ids
        if "type" not in item:
            say(f"{place}.type: missing")
        elif not isinstance(type_name, str):
            say(f"{place}.type: {registry.unknown_type_message(type_name)}")
        elif not is_block and type_name not in registry.LAYERS and type_name not in PORT_TYPES:
            hint = did_you_mean(type_name[:200], [*registry.LAYERS, *self.block_ids])
            say(f"{place}.type: unknown layer or block type {clip_text(repr(type_name))}{hint}")
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            say(f"{place}.name: must be a string, got {kind_of(name)}")
        pos = item.get("pos")
        if pos is not None and not is_point(pos):
            say(f"{place}.pos: must be [x, y] numbers, got {show_value(pos)}")
        elif pos is not None and not on_canvas(pos):
            say(
                f"{place}.pos: {show_value(pos)} is off the canvas: x and y must be from "
                f"{-MAX_COORDINATE:,.0f} to {MAX_COORDINATE:,.0f}"
            )
        params = item.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            say(f"{place}.params: must be an object, got {kind_of(params)}")
        elif not is_block and isinstance(type_name, str) and type_name in registry.LAYERS:
            for problem in self._layer_problems(registry.LAYERS[type_name], params):
                say(f"{key_place(f'{place}.params', problem.param)}: {problem.message}")
        instance = is_block or "repeat" in item
        shares = item.get("shares")
        if shares is not None and (not isinstance(shares, str) or not shares):
            say(f"{place}.shares: must be the id of another node, got {show_value(shares)}")
        elif shares is not None and instance:
            say(f"{place}.shares: an instance of a block, or a repeated node, has its own weights")
        for key in item:
            if key not in MEMBER_KEYS:
                self.reader.notes.append(
                    f"{key_place(place, key)}: not read by this version; dropped"
                )
        if len(scope.problems) > problems:
            if isinstance(node_id, str):
                scope.faulty.add(node_id)
            return None
        point = (pos[0], pos[1]) if pos else None
        if instance:
            return Instance(node_id, type_name, params, item.get("repeat", 1), name, point)
        return NodeRecord(node_id, type_name, params, name, point, shares=shares)

    def _layer_problems(self, spec: LayerSpec, params: dict[str, Any]) -> list[ParamError]:
        """What a layer's type refuses in its params (see `layer_param_problems`); without
        expressions, through the reader's check, which remembers each (type, params)."""
        if not any(map(holds_expr, params.values())):
            return self.reader._examine(spec, params)[1]
        return layer_param_problems(spec, params)

    def _edges(self, scope: _Scope, raw: list[Any]) -> None:
        kinds = {node_id: member.type for node_id, member in scope.members.items()}
        fed: dict[tuple[str, int], int] = {}
        say = scope.problems.append
        for index, item in enumerate(raw):
            place = f"{scope.place}edges[{index}]"
            if not isinstance(item, dict):
                say(f"{place}: must be an object, got {kind_of(item)}")
                continue
            source, target = [self._end(scope, place, item, key) for key in ("source", "target")]
            several = target is not None and several_inputs(kinds[target], self.inputs)
            if "port" not in item and several:
                say(
                    f"{place}.port: missing; {show_value(target)} ({kinds[target]}) takes "
                    "several inputs, so each edge into it must say which"
                )
                port = None
            else:
                port = _slot(place, item, "port", say)
            output = _slot(place, item, "output", say)
            for key in item:
                if key not in EDGE_KEYS:
                    self.reader.notes.append(
                        f"{key_place(place, key)}: not read by this version; dropped"
                    )
            if source is None or target is None or port is None or output is None:
                continue
            if source == target:
                say(f"{place}: {show_value(source)} cannot feed itself")
            elif (target, port) in fed:
                say(
                    f"{place}.port: input port {port} of {show_value(target)} is already fed "
                    f"by {scope.place}edges[{fed[(target, port)]}]"
                )
            else:
                fed[(target, port)] = index
                scope.edges.append(EdgeRecord(source, target, port, output))
                scope.edge_places.setdefault(f"{source} → {target}", []).append(index)
                scope.slots[index] = (port, output)

    def _end(self, scope: _Scope, place: str, item: dict[str, Any], key: str) -> str | None:
        value = item.get(key)
        if key not in item:
            scope.problems.append(f"{place}.{key}: missing")
        elif not isinstance(value, str):
            scope.problems.append(f"{place}.{key}: must be a node id string, got {kind_of(value)}")
        elif value in scope.faulty:
            pass
        elif value not in scope.node_places:
            scope.problems.append(f"{place}.{key}: there is no node {show_value(value)}")
        else:
            return value
        return None


def _slot(place: str, item: dict[str, Any], key: str, say: Callable[[str], None]) -> int | None:
    """An edge's `port` or `output`: a non-negative int, 0 where left out."""
    value = item.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        say(f"{place}.{key}: must be a non-negative int, got {show_value(value)}")
        return None
    return value


def _placed(problem: str, top: _Scope, blocks: list[_Scope]) -> str:
    """A problem the blocks or the flattening found, said at its place in the file where it
    names one (`block B, c2: …`, `the design, edge a → b: …`); one named by path (an
    instance's values) is said as it is."""
    for scope in blocks:
        shown = f"block {clip_text(repr(scope.block_id), 80)}: "
        if problem.startswith(shown):  # the id itself
            return f"{scope.place}id: {problem[len(shown) :]}"
        lead = f"block {scope.block_id}"
        if problem.startswith(lead + ", "):
            rest = problem[len(lead) + 2 :]
            return scope.placed(rest) or f"{scope.place[:-1]}: {rest}"
        if problem.startswith(lead + ": "):
            return f"{scope.place[:-1]}: {problem[len(lead) + 2 :]}"
    if problem.startswith("the design, "):
        return top.placed(problem[len("the design, ") :]) or problem
    return problem
