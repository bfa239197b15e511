"""A design with blocks as the window edits it: one Architecture per scope.

The top level (scope '') and each block definition (scope: its id) are Architectures, so
the edits that change a plain design (designer.core.edits) change any scope, and undo
replays them. Their nodes are layers, instances (type: a block id) and the BlockInput and
BlockOutput nodes of a definition, all typed by one ScopeCatalog, where values may be
`{"expr": ...}` (checked where they can be without the block's params) and a node's
`repeat` is a param like the others.

After an edit the scopes are read back as a Library and the design flattened
(designer.core.block_flatten); the flat design is what the engine analyses, and
`scope_results` reads its results back for the nodes of one scope, seen from one
instance: an instance node gets its layers' totals and its output tensors, an inner node
the result of its copy in that instance.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from designer.core.analysis import NodeResult, Sums
from designer.core.block_flatten import Flat, InstanceInfo, flatten, instance_errors
from designer.core.blocks import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    PORT_TYPES,
    BlockDef,
    Instance,
    Library,
    Member,
    join,
    layer_param_problems,
)
from designer.core.expr import ExprError, expressions, holds_expr, is_expr
from designer.core.graph import Architecture, Catalog, EdgeRecord, NodeRecord
from designer.core.params import Kind, Param, ParamError, did_you_mean
from designer.core.spec import LayerError, LayerOutput, LayerSpec

REPEAT = "repeat"
BLOCKS_CATEGORY = "Blocks"
_REPEAT_PARAM = Param(
    REPEAT, Kind.INT, default=1, minimum=1, help="copies in a chain, each feeding the next"
)
_INDEX_PARAM = Param("index", Kind.INT, default=0, minimum=0, help="which port of the block")


@dataclass(frozen=True)
class ScopeSpec(LayerSpec):
    """A layer type or a block as a scope holds it: a value may be an expression, which
    only flattening evaluates (so only what shows without the block's params is checked
    here), and `repeat` is one of its params."""

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        problems = layer_param_problems(self, params)
        if problems:
            raise problems[0]
        canonical = {
            name: value if holds_expr(value) else self.by_name[name].check(value)
            for name, value in params.items()
        }
        return self.explicit(canonical)

    def output_names(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The slots' names; a layer whose slots follow from an expression has one name
        per slot of its defaults (the canvas reads the rest from the results)."""
        try:
            return super().output_names(params)
        except (TypeError, ValueError, KeyError):
            return ("output",)


@dataclass(frozen=True)
class InstanceSpec(ScopeSpec):
    """A block as the type of its instances. Its params' rules guide the inspector only: a
    value one refuses is kept as written, for flattening checks it where the block's
    layers read it, by path, as a file's reader does; so the window never refuses what
    the reader opens (an edit inside the block can change what a param is passed to)."""

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in params:
            if name not in self.by_name:
                hint = did_you_mean(name, self.by_name)
                raise ParamError(name, f"{self.name} has no parameter {name!r}{hint}")
        canonical = {}
        for name, value in params.items():
            try:
                canonical[name] = value if holds_expr(value) else self.by_name[name].check(value)
            except ParamError:
                if name == REPEAT:
                    raise
                canonical[name] = value
        return self.explicit(canonical)


def _in_scope(spec: LayerSpec, repeatable: bool) -> ScopeSpec:
    """`spec` as a ScopeSpec, with a `repeat` param where its nodes may be repeated."""
    values = {f.name: getattr(spec, f.name) for f in fields(LayerSpec) if f.init}
    if repeatable:
        values["params"] = (*spec.params, _REPEAT_PARAM)
    return ScopeSpec(**values)


def _not_analysed(inputs: Any, params: Any) -> LayerOutput:
    raise LayerError("a block is analysed through its layers, flattened")


def _port_spec(kind: str, inputs: tuple[int, int], summary: str) -> ScopeSpec:
    return ScopeSpec(
        name=kind,
        category=BLOCKS_CATEGORY,
        params=(_INDEX_PARAM,),
        evaluate=_not_analysed,
        summary=summary,
        inputs=inputs,
        slots=(lambda params: ("in",)) if kind == BLOCK_INPUT else (lambda params: ()),
        dtypes="any",
        batch_anywhere=True,
    )


PORT_SPECS = {
    BLOCK_INPUT: _port_spec(BLOCK_INPUT, (0, 0), "An input port of the block: what feeds it"),
    BLOCK_OUTPUT: _port_spec(BLOCK_OUTPUT, (1, 1), "An output slot of the block"),
}


def _param_for(name: str, default: Any, block: Architecture, layers: Catalog) -> Param:
    """A block param as the inspector edits it: of its default's kind where that is a
    number, a bool or a list of ints; else with the rules of the layer params of `block`
    it is passed to whole (a string given as an Upsample's mode offers every mode) where
    they agree and admit the default; else any string for a string, any numbers for a
    list of numbers, and its default alone for anything else (null)."""
    if isinstance(default, bool):
        kind = Kind.BOOL
    elif isinstance(default, int):
        kind = Kind.INT
    elif isinstance(default, float):
        kind = Kind.FLOAT
    elif isinstance(default, (list, tuple)) and all(type(v) is int for v in default):
        kind = Kind.INT_TUPLE
    else:
        passed = _passed_whole(block, name, layers)
        unset = {"default": None, "required": False, "inferred": False, "from_input": None}
        rules = {replace(param, name=name, help="", **unset) for _, param in passed}
        if len(rules) == 1:
            (rule,) = rules
            try:
                rule.check(default)
            except ParamError:
                pass
            else:
                where = ", ".join(sorted({f"{kind}.{param.name}" for kind, param in passed}))
                help_text = f"a param of the block (default {default!r}), passed on as {where}"
                return replace(rule, default=default, help=help_text)
        if isinstance(default, str):
            kind = Kind.TEXT
        elif isinstance(default, (list, tuple)) and all(_is_number(v) for v in default):
            kind = Kind.FLOAT_TUPLE
        else:  # null, or a value of no kind the inspector edits
            return Param(name, Kind.CHOICE, default=default, choices=(default,))
    if isinstance(default, list):  # as checking makes a value: a list default is a tuple
        default = tuple(default)
    return Param(name, kind, default=default, help=f"a param of the block (default {default!r})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _passed_whole(block: Architecture, name: str, layers: Catalog) -> list[tuple[str, Param]]:
    """The layer params in `block` whose value is the block param `name` itself, each
    with its layer type."""
    found = []
    for record in block.nodes():
        spec = layers.get(record.type)
        for key, value in record.params.items():
            if spec is None or key not in spec.by_name or not is_expr(value):
                continue
            try:
                (expr,) = expressions(value)
            except ExprError:
                continue
            if isinstance(expr.tree, ast.Name) and expr.tree.id == name:
                found.append((record.type, spec.by_name[key]))
    return found


@dataclass
class BlockScope:
    """A block definition being edited: its params' defaults and its inside."""

    defaults: dict[str, Any]
    arch: Architecture


class ScopeCatalog(Mapping[str, LayerSpec]):
    """The types a scope's nodes may have: the design's layer types, its blocks (read from
    their scopes when asked, so a new port shows at once) and the two port types."""

    def __init__(self, design: ScopedDesign, layers: Catalog) -> None:
        self._design = design
        self.layers = layers
        self._wrapped: dict[str, ScopeSpec] = {}

    def __getitem__(self, kind: str) -> LayerSpec:
        if kind in self._design.blocks:
            return self._design.block_spec(kind)
        if kind in PORT_SPECS:
            return PORT_SPECS[kind]
        spec = self._wrapped.get(kind)
        if spec is None:
            layer = self.layers[kind]
            fewest, most = layer.inputs  # a chain of copies: each takes one input
            repeatable = fewest <= 1 and (most is None or most >= 1)
            spec = self._wrapped[kind] = _in_scope(layer, repeatable)
        return spec

    def __iter__(self) -> Iterator[str]:
        yield from self.layers
        yield from PORT_SPECS
        yield from self._design.blocks

    def __len__(self) -> int:
        return len(self.layers) + len(PORT_SPECS) + len(self._design.blocks)


@dataclass
class ScopedDesign:
    """The top level and the block definitions of a design, each an Architecture typed by
    one ScopeCatalog. Build with `of`; the top Architecture is used as it is."""

    top: Architecture
    blocks: dict[str, BlockScope] = field(default_factory=dict)
    catalog: ScopeCatalog = field(init=False)

    @classmethod
    def of(cls, top: Architecture, library: Library | None = None) -> ScopedDesign:
        """`top` (its nodes may be instances of `library`'s blocks) made editable with
        blocks; `top.catalog` becomes the design's ScopeCatalog."""
        design = cls(top)
        design.catalog = ScopeCatalog(design, top.catalog)
        top.catalog = design.catalog
        design.add_blocks(list(library or ()))
        return design

    def add_blocks(self, blocks: list[BlockDef]) -> None:
        """Blocks as scopes, each known before its inside is built: one may hold another."""
        for block in blocks:
            self.blocks[block.id] = BlockScope(
                dict(block.params), Architecture(block.id, self.catalog)
            )
        for block in blocks:
            self.blocks[block.id].arch = self.scope_architecture(block.id, block.nodes, block.edges)

    @classmethod
    def from_members(
        cls,
        name: str,
        nodes: tuple[Member, ...],
        edges: tuple[EdgeRecord, ...],
        library: Library,
    ) -> ScopedDesign:
        """A design as a file with blocks holds it (designer.io's BlockDesign)."""
        design = cls.of(Architecture(name, library.catalog), library)
        design.top = design.scope_architecture(name, nodes, edges)
        return design

    def scope_architecture(
        self, name: str, members: tuple[Member, ...] | list[Member], edges: Any
    ) -> Architecture:
        """An Architecture of `members` (layers and instances) and `edges`, typed by the
        design's catalog."""
        return Architecture.build(name, map(as_record, members), edges, self.catalog)

    def scope(self, block_id: str) -> Architecture:
        """The Architecture of a block ('' for the top level)."""
        return self.top if block_id == "" else self.blocks[block_id].arch

    def scopes(self) -> list[Architecture]:
        """The top level and every block's inside."""
        return [self.top, *(block.arch for block in self.blocks.values())]

    def block_spec(self, block_id: str) -> ScopeSpec:
        """The type an instance of the block has: its params, ports and slots."""
        block = self.blocks[block_id]
        inputs = port_names(block.arch, BLOCK_INPUT)
        outputs = port_names(block.arch, BLOCK_OUTPUT)
        layers = self.catalog.layers
        params = tuple(
            _param_for(name, value, block.arch, layers) for name, value in block.defaults.items()
        )
        repeatable = (len(inputs), len(outputs)) == (1, 1)
        return InstanceSpec(
            name=block_id,
            category=BLOCKS_CATEGORY,
            params=(*params, _REPEAT_PARAM) if repeatable else params,
            evaluate=_not_analysed,
            summary=f"Block {block_id}: {len(block.arch)} nodes inside",
            inputs=(len(inputs), len(inputs)),
            slots=lambda resolved: outputs,
            dtypes="any",
            batch_anywhere=True,
            ports=inputs if len(inputs) > 1 else (),
        )

    def library(self) -> Library:
        """The blocks as a Library, checked (BlockError lists every problem)."""
        return Library(
            [
                BlockDef(block_id, dict(block.defaults), members(block.arch), block.arch.edges())
                for block_id, block in self.blocks.items()
            ],
            self.catalog.layers,
        )

    def flatten(self) -> tuple[Library, Flat]:
        """The library and the whole design flattened (BlockError if refused)."""
        library = self.library()
        return library, flatten(members(self.top), self.top.edges(), library)


def as_record(member: Member) -> NodeRecord:
    """A node of a design with blocks as a scope's Architecture holds it: `repeat` a param."""
    if isinstance(member, NodeRecord):
        return member
    params = dict(member.params)
    if member.repeat != 1:
        params[REPEAT] = member.repeat
    return NodeRecord(member.id, member.type, params, member.name, member.pos)


def members(arch: Architecture) -> list[Member]:
    """A scope's nodes as flattening and saving read them: instances of blocks and
    repeated nodes as Instances, other layers as they are (file order)."""
    found: list[Member] = []
    for record in arch.nodes():
        params = dict(record.params)
        repeat = params.pop(REPEAT, 1)
        if record.type in arch.catalog and arch.catalog[record.type].category == BLOCKS_CATEGORY:
            if record.type not in PORT_TYPES:
                found.append(
                    Instance(record.id, record.type, params, repeat, record.name, record.pos)
                )
                continue
        elif repeat != 1:
            found.append(Instance(record.id, record.type, params, repeat, record.name, record.pos))
            continue
        found.append(replace(record, params=params, seq=None))
    return found


def port_names(arch: Architecture, kind: str) -> tuple[str, ...]:
    """The names of a block's input ports (or output slots), by index: each port node's
    name, else its id."""
    ports = sorted(
        (record.params.get("index", 0), record.name or record.id)
        for record in arch.nodes()
        if record.type == kind
    )
    return tuple(name for _, name in ports)


def copy_path(flat: Flat, path: str) -> str:
    """Where the inside of the instance at `path` is read: its first copy if repeated."""
    info = flat.instances.get(path)
    return info.copies[0] if info is not None and info.repeat > 1 else path


def scope_results(
    arch: Architecture,
    path: str | None,
    flat: Flat,
    results: Mapping[str, NodeResult],
) -> dict[str, NodeResult]:
    """The results of a scope's nodes, seen from the instance at `path` ('' for the top
    level; None where no instance uses the block, and then there are none)."""
    if path is None:
        return {}
    around = flat.instances.get(path)
    found: dict[str, NodeResult] = {}
    for node_id, data in arch.graph.nodes(data=True):
        kind = data["type"]
        if kind in PORT_TYPES:
            if around is not None:
                exits = around.inputs if kind == BLOCK_INPUT else around.outputs
                index = data["params"].get("index", 0)
                exit = exits[index] if index < len(exits) else None
                tensor = None if exit is None else results[exit[0]].slot(exit[1])
                if tensor is not None:
                    found[node_id] = NodeResult(tensor, (tensor.shape,))
            continue
        inner = join(path, node_id)
        info = flat.instances.get(inner)
        if info is not None:
            found[node_id] = instance_result(info, results)
        elif inner in results:
            found[node_id] = results[inner]
    return found


def instance_result(info: InstanceInfo, results: Mapping[str, NodeResult]) -> NodeResult:
    """An instance as one node, as the report writes its row: its layers' totals, its
    output tensors, the tensors that feed it, its first error (`instance_errors`, with a
    count of the others) and every warning inside."""
    inner = [results[member] for member in info.members]
    sums = Sums.over(inner)
    outputs = [None if e is None else results[e[0]].slot(e[1]) for e in info.outputs]
    feeding = [None if e is None else results[e[0]].slot(e[1]) for e in info.inputs]
    errors = instance_errors(info, results)
    more = f" (and {len(errors) - 1:,} more)" if len(errors) > 1 else ""
    waiting = next((r.blocked_by for r in inner if r.output is None and r.blocked_by), None)
    present = bool(outputs) and all(t is not None for t in outputs)
    return NodeResult(
        output=outputs[0] if present else None,
        input_shapes=tuple(t.shape for t in feeding if t is not None),
        params=sums.params,
        buffers=sums.buffers,
        macs=sums.macs,
        flops=sums.flops,
        memory=sums.memory,
        warnings=tuple(f"{m}: {w}" for m, r in zip(info.members, inner) for w in r.warnings),
        error=errors[0] + more if errors else None,
        blocked_by=None if errors else waiting,
        more=tuple(outputs[1:]) if present else (),
    )
