"""Reversible edits of a design with blocks (designer.core.block_editing.ScopedDesign):
an ordinary edit in one scope, a new block, and the two that move nodes between scopes,
grouping a selection into a block and inlining an instance (ungroup). Each is one undo
step; like every Edit, it records on `apply` what `revert` needs."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from designer.core.block_editing import REPEAT, BlockScope, ScopedDesign
from designer.core.blocks import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    PORT_TYPES,
    BlockDef,
    Library,
    repeat_of,
)
from designer.core.edits import AddNode, Compound, Connect, Edit, RemoveNode
from designer.core.expr import ExprError, expressions, holds_expr, resolve
from designer.core.graph import Architecture, EdgeRecord, GraphError, NodeRecord

PORT_GAP = 130.0  # how far above (below) its layers a new block's input (output) port lies


class DesignEdit(ABC):
    text: str = ""

    @abstractmethod
    def apply(self, design: ScopedDesign) -> None: ...

    @abstractmethod
    def revert(self, design: ScopedDesign) -> None: ...


@dataclass
class InScope(DesignEdit):
    """An ordinary edit of one scope: '' for the top level, else a block's id."""

    scope: str
    edit: Edit

    @property
    def text(self) -> str:
        return f"{self.edit.text} in {self.scope}" if self.scope else self.edit.text

    def apply(self, design: ScopedDesign) -> None:
        self.edit.apply(design.scope(self.scope))

    def revert(self, design: ScopedDesign) -> None:
        self.edit.revert(design.scope(self.scope))


@dataclass
class AddBlock(DesignEdit):
    """A new block definition."""

    block_id: str
    block: BlockScope

    @property
    def text(self) -> str:
        return f"Add block {self.block_id}"

    def apply(self, design: ScopedDesign) -> None:
        if self.block_id in design.blocks or self.block_id in design.catalog.layers:
            raise GraphError(f"a block or layer type {self.block_id!r} exists already")
        design.blocks[self.block_id] = self.block

    def revert(self, design: ScopedDesign) -> None:
        del design.blocks[self.block_id]


@dataclass
class AddBlocks(DesignEdit):
    """Blocks brought in from another design (a shipped library): their definitions, in
    an order where each comes after those it holds."""

    blocks: list[BlockDef]

    @property
    def text(self) -> str:
        return f"Add block{'s' if len(self.blocks) > 1 else ''} " + ", ".join(
            b.id for b in self.blocks
        )

    def apply(self, design: ScopedDesign) -> None:
        taken = [
            b.id for b in self.blocks if b.id in design.blocks or b.id in design.catalog.layers
        ]
        if taken:
            raise GraphError(f"a block or layer type {taken[0]!r} exists already")
        design.add_blocks(self.blocks)

    def revert(self, design: ScopedDesign) -> None:
        for block in self.blocks:
            del design.blocks[block.id]


@dataclass
class SetBlockDefaults(DesignEdit):
    """A block's params and their defaults, replaced: what expressions inside may read and
    what instances may set."""

    block_id: str
    defaults: dict[str, Any]
    _old: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return f"Change the params of {self.block_id}"

    def apply(self, design: ScopedDesign) -> None:
        block = design.blocks[self.block_id]
        self._old, block.defaults = block.defaults, dict(self.defaults)

    def revert(self, design: ScopedDesign) -> None:
        assert self._old is not None, "revert before apply"
        design.blocks[self.block_id].defaults = self._old


def needed_blocks(
    design: ScopedDesign, library: Library, block_ids: Iterable[str]
) -> list[BlockDef]:
    """The blocks of `library` that instances of `block_ids` need and the design lacks:
    those blocks and the blocks they hold, directly or not, each after those it holds.
    GraphError where the design has a block of one of those names that is not the
    library's."""
    wanted = held_blocks(library, block_ids)
    shared = sorted(wanted & set(design.blocks))
    if shared:  # both read through scopes, so that they are written alike
        theirs = ScopedDesign.from_members("library", (), (), library).library()
        ours = design.library()
        for name in shared:
            if _inside(ours[name]) != _inside(theirs[name]):
                raise GraphError(
                    f"the design's block {name} differs from the one being brought in: "
                    f"rename yours to bring in {', '.join(sorted(set(block_ids)))}"
                )
    return [library[b] for b in library.order() if b in wanted and b not in design.blocks]


def held_blocks(library: Library, block_ids: Iterable[str]) -> set[str]:
    """`block_ids` and every block of `library` they hold, directly or not."""
    wanted = set(block_ids)
    for held in reversed(library.order()):  # each block before those it holds
        if held in wanted:
            wanted.update(m.type for m in library[held].nodes if m.type in library)
    return wanted


def _inside(block: BlockDef) -> tuple:
    """What a block computes: its params and its nodes and edges, places and names aside."""
    nodes = sorted(
        (m.id, m.type, repr(sorted(m.params.items())), repr(repeat_of(m))) for m in block.nodes
    )
    return repr(sorted(block.params.items())), nodes, sorted(block.edges)


@dataclass
class Steps(DesignEdit):
    """Design edits as one user action, all or nothing."""

    parts: list[DesignEdit]
    label: str

    @property
    def text(self) -> str:
        return self.label

    def apply(self, design: ScopedDesign) -> None:
        done: list[DesignEdit] = []
        try:
            for part in self.parts:
                part.apply(design)
                done.append(part)
        except Exception:
            for part in reversed(done):
                part.revert(design)
            raise

    def revert(self, design: ScopedDesign) -> None:
        for part in reversed(self.parts):
            part.revert(design)


def new_block_id(design: ScopedDesign, stem: str = "Block") -> str:
    """Block1, Block2, …: the first that is neither a block nor a layer type."""
    taken = set(design.blocks) | set(design.catalog.layers)
    return next(f"{stem}{i}" for i in itertools.count(1) if f"{stem}{i}" not in taken)


def group_into_block(
    design: ScopedDesign, scope: str, node_ids: Iterable[str], block_id: str
) -> Steps:
    """The nodes `node_ids` of a scope moved into a new block `block_id`, in whose place
    an instance stands. Each distinct output that feeds the selection from outside becomes
    an input port, each that the selection gives outside (or a design output inside it)
    an output slot. Expressions inside read the scope's params, so the block takes those
    as params, which the instance passes on. GraphError if the selection cannot be one."""
    arch = design.scope(scope)
    chosen = [n for n in arch.file_order() if n in set(node_ids)]
    _check_groupable(arch, chosen)
    inside = set(chosen)
    edges = arch.edges()
    entering = [e for e in edges if e.source not in inside and e.target in inside]
    leaving = [e for e in edges if e.source in inside and e.target not in inside]
    feeds = list(dict.fromkeys((e.source, e.output) for e in entering))
    gives = list(dict.fromkeys((e.source, e.output) for e in leaving))
    gives += [(n, 0) for n in chosen if _is_design_output(arch, n) and (n, 0) not in gives]
    records = [arch.node(n) for n in chosen]
    block_arch = Architecture(block_id, design.catalog)
    read = sorted({name for r in records for v in r.params.values() for name in _names(v)})
    outer_defaults = design.blocks[scope].defaults if scope else {}
    unknown = [name for name in read if name not in outer_defaults]
    if unknown:
        raise GraphError(f"the selection reads {unknown[0]}, which is not a param of {scope}")
    block = BlockScope({name: outer_defaults[name] for name in read}, block_arch)
    centre = _centre(records)
    instance = NodeRecord(block_id.lower(), block_id, {n: {"expr": n} for n in read}, pos=centre)
    instance = _unique(arch, instance, inside)
    outside = _outside(arch, chosen, instance, feeds, gives, leaving)
    steps = [AddBlock(block_id, block), InScope(scope, outside)]
    _fill(block_arch, records, edges, _inner_ids(chosen), feeds, gives)
    return Steps(steps, f"Group {len(chosen)} nodes into block {block_id}")


def _check_groupable(arch: Architecture, chosen: list[str]) -> None:
    if not chosen:
        raise GraphError("select the nodes to group into a block")
    ports = [n for n in chosen if arch.type_of(n) in PORT_TYPES]
    if ports:
        raise GraphError(f"{ports[0]} is a port of this block: it cannot move into another")
    inside = set(chosen)
    for node_id in chosen:
        owner = arch.owner_of(node_id)
        sharers = [owner] if owner else arch.sharers(node_id)
        outside = [n for n in sharers if n not in inside]
        if outside:
            raise GraphError(f"{node_id} shares weights with {outside[0]}: select both or neither")


def _is_design_output(arch: Architecture, node_id: str) -> bool:
    spec = arch.spec(node_id)
    return not arch.consumers(node_id) and spec.inputs[1] != 0 and bool(spec.output_names({}))


def _names(value: object) -> set[str]:
    try:
        return {name for expr in expressions(value) for name in expr.names}
    except ExprError:
        return set()


def _centre(records: list[NodeRecord]) -> tuple[float, float] | None:
    placed = [r.pos for r in records if r.pos is not None]
    if not placed:
        return None
    return (
        sum(x for x, _ in placed) / len(placed),
        sum(y for _, y in placed) / len(placed),
    )


def _free_id(wanted: str, taken: Callable[[str], bool]) -> str:
    """`wanted`, else `wanted_2`, `wanted_3`, …: the first not `taken`."""
    candidates = itertools.chain([wanted], (f"{wanted}_{i}" for i in itertools.count(2)))
    return next(c for c in candidates if not taken(c))


def _unique(arch: Architecture, record: NodeRecord, freed: set[str]) -> NodeRecord:
    """`record` with an id the scope does not hold once `freed` nodes are gone."""
    free = _free_id(record.id, lambda c: c in arch and c not in freed)
    return NodeRecord(free, record.type, record.params, record.name, record.pos)


def _outside(
    arch: Architecture,
    chosen: list[str],
    instance: NodeRecord,
    feeds: list[tuple[str, int]],
    gives: list[tuple[str, int]],
    leaving: list[EdgeRecord],
) -> Compound:
    """The scope's side of a grouping: the nodes go, the instance comes, wired as they
    were. Nodes that use another's weights go first (their holder refuses to go before)."""
    ordered = sorted(chosen, key=lambda n: arch.owner_of(n) is None)
    parts: list[Edit] = [RemoveNode(n) for n in ordered]
    parts.append(AddNode(instance))
    parts += [
        Connect(source, instance.id, port, output) for port, (source, output) in enumerate(feeds)
    ]
    slots = {end: slot for slot, end in enumerate(gives)}
    parts += [Connect(instance.id, e.target, e.port, slots[(e.source, e.output)]) for e in leaving]
    return Compound(parts, f"Group into {instance.type}")


def _inner_ids(chosen: list[str]) -> dict[str, str]:
    """Each chosen node's id inside the new block: its own, but with '_' for '.', which
    joins the parts of a flat path and no id inside a block may hold (`features.0`, as
    torchvision names its layers, is `features_0` there), kept distinct."""
    taken = {n for n in chosen if "." not in n}
    ids = {}
    for node_id in chosen:
        if "." in node_id:
            ids[node_id] = _free_id(node_id.replace(".", "_"), taken.__contains__)
            taken.add(ids[node_id])
        else:
            ids[node_id] = node_id
    return ids


def _fill(
    block: Architecture,
    records: list[NodeRecord],
    edges: list[EdgeRecord],
    ids: dict[str, str],
    feeds: list[tuple[str, int]],
    gives: list[tuple[str, int]],
) -> None:
    """The new block's inside: the nodes (`ids`: their ids there), their edges, and a
    port node per input and output, placed beside the layers they feed or read."""
    for record in records:
        shares = None if record.shares is None else ids[record.shares]
        block.add_node(
            NodeRecord(
                ids[record.id], record.type, record.params, record.name, record.pos, shares=shares
            )
        )
    for edge in edges:
        if edge.source in ids and edge.target in ids:
            block.connect(ids[edge.source], ids[edge.target], edge.port, edge.output)
    positions = {r.id: r.pos for r in records}
    for index, (source, output) in enumerate(feeds):
        targets = [e for e in edges if (e.source, e.output) == (source, output) and e.target in ids]
        port = _port_record(block, BLOCK_INPUT, index, positions[targets[0].target], -PORT_GAP)
        for edge in targets:
            block.connect(port.id, ids[edge.target], edge.port)
    for index, (source, output) in enumerate(gives):
        port = _port_record(block, BLOCK_OUTPUT, index, positions[source], PORT_GAP)
        block.connect(ids[source], port.id, 0, output)


def _port_record(
    block: Architecture, kind: str, index: int, near: tuple[float, float] | None, dy: float
) -> NodeRecord:
    stem = "in" if kind == BLOCK_INPUT else "out"
    node_id = next(f"{stem}{i or ''}" for i in itertools.count() if f"{stem}{i or ''}" not in block)
    pos = None if near is None else (near[0], near[1] + dy)
    return block.add_node(NodeRecord(node_id, kind, {"index": index} if index else {}, pos=pos))


def ungroup(design: ScopedDesign, scope: str, instance_id: str) -> InScope:
    """The instance `instance_id` of a scope replaced by its block's layers (each copy's,
    where repeated), their expressions evaluated with the instance's params and wired as
    the instance was. Inner ids take the instance's as a prefix (`stage_conv1`). The block
    stays in the design. GraphError if the instance's params are expressions."""
    arch = design.scope(scope)
    record = arch.node(instance_id)
    if record.type not in design.blocks:
        raise GraphError(f"{instance_id} is a layer, not an instance of a block")
    params = dict(record.params)
    count = params.pop(REPEAT, 1)
    if any(holds_expr(v) for v in [count, *params.values()]):
        raise GraphError(
            f"{instance_id}'s params are expressions over {scope}'s params: ungroup it where "
            "they are values"
        )
    block = design.blocks[record.type]
    inner = [block.arch.node(n) for n in block.arch.file_order()]
    inlined = _Inlining(arch, instance_id, inner, block.arch.edges(), record.pos)
    env = {**block.defaults, **params}
    feeding = {e.port: (e.source, e.output) for e in arch.in_edges(instance_id)}
    for copy in range(count):
        feeding = inlined.copy(copy if count > 1 else None, env, feeding)
    parts: list[Edit] = [RemoveNode(instance_id), *inlined.parts]
    for edge in arch.edges_of(instance_id):
        exit = feeding.get(edge.output) if edge.source == instance_id else None
        if exit is not None:
            parts.append(Connect(exit[0], edge.target, edge.port, exit[1]))
    return InScope(scope, Compound(parts, f"Ungroup {instance_id}"))


class _Inlining:
    """The edits that put a block's layers in a scope, one copy at a time."""

    def __init__(
        self,
        arch: Architecture,
        instance_id: str,
        inner: list[NodeRecord],
        edges: list[EdgeRecord],
        at: tuple[float, float] | None,
    ) -> None:
        self.instance_id = instance_id
        self.layers = [r for r in inner if r.type not in PORT_TYPES]
        self.inputs = {r.id: r.params.get("index", 0) for r in inner if r.type == BLOCK_INPUT}
        self.outputs = {r.params.get("index", 0): r.id for r in inner if r.type == BLOCK_OUTPUT}
        self.edges = edges
        self.taken = set(arch.graph) - {instance_id}
        placed = [r.pos for r in self.layers if r.pos is not None]
        low = min((y for _, y in placed), default=0.0)
        high = max((y for _, y in placed), default=0.0)
        centre = _centre(self.layers) or (0.0, 0.0)
        self.shift = (0.0, 0.0) if at is None else (at[0] - centre[0], at[1] - centre[1])
        self.height = high - low + PORT_GAP
        self.parts: list[Edit] = []

    def copy(
        self, number: int | None, env: dict, feeding: dict[int, tuple[str, int] | None]
    ) -> dict[int, tuple[str, int] | None]:
        """One copy's layers and edges (`number` None where not repeated); what each of
        its output slots is."""
        prefix = self.instance_id if number is None else f"{self.instance_id}_{number}"
        ids = {r.id: self._free(f"{prefix}_{r.id}") for r in self.layers}
        down = (number or 0) * self.height
        for r in self.layers:
            try:
                params = {name: resolve(value, env) for name, value in r.params.items()}
            except ExprError as error:
                raise GraphError(f"{self.instance_id}: {r.id}: {error}") from None
            pos = (
                None
                if r.pos is None
                else (r.pos[0] + self.shift[0], r.pos[1] + self.shift[1] + down)
            )
            shares = None if r.shares is None else ids[r.shares]
            self.parts.append(
                AddNode(NodeRecord(ids[r.id], r.type, params, r.name, pos, shares=shares))
            )

        def exit_of(source: str, output: int) -> tuple[str, int] | None:
            if source in self.inputs:
                return feeding.get(self.inputs[source])
            return ids[source], output

        into_ports: dict[str, tuple[str, int] | None] = {}
        for e in self.edges:
            found = exit_of(e.source, e.output)
            if e.target in ids and found is not None:
                self.parts.append(Connect(found[0], ids[e.target], e.port, found[1]))
            elif e.target not in ids:
                into_ports[e.target] = found
        return {index: into_ports.get(port) for index, port in self.outputs.items()}

    def _free(self, wanted: str) -> str:
        free = _free_id(wanted, self.taken.__contains__)
        self.taken.add(free)
        return free
