"""A design with blocks as the PyTorch code a person would write: one class per block.

Each block the design uses becomes an nn.Module class, defined after the blocks it holds.
Its constructor takes the block's params with the block's defaults and builds its layers
from them: `{"expr": "width * 4"}` is written `width * 4`. What a layer leaves to its
input (in_channels, num_features) is written as the expression of the params that gives
it in every use of the block (`width` after a conv of `width` channels), as a number where
it is one number in every use, or else as a constructor argument of its own that comes
first, as torchvision's `inplanes`. An instance is written `Bottleneck(64, stride=2)`:
those arguments, then the params that differ from the block's defaults; a repeat is an
nn.Sequential of its copies, numbered as the flat design numbers them.

Attributes are named by node ids, so a layer's module path in torch is its path in the
flat design (stage1.rest.0.c2), and verify compares the two node by node. The code of a
layer is the flat exporter's (designer.export.pytorch), written for each use of its
block: a layer that two uses would need written differently is refused, naming both.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from designer.core.block_flatten import Flat
from designer.core.blocks import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    Library,
    Member,
    incoming,
    join,
    repeat_of,
    scope_order,
)
from designer.core.expr import ExprError, evaluate, expressions, is_expr, resolve
from designer.core.graph import EdgeRecord
from designer.core.propagate import Engine
from designer.core.spec import Module
from designer.export import naming
from designer.export.pysource import (
    INDENT,
    LINE_LENGTH,
    Bracketed,
    Code,
    Expr,
    Keyword,
    call,
    literal,
    statement,
)
from designer.export.pytorch import (
    ExportedModule,
    ExportError,
    Output,
    _is_learned,
    _signature,
    _Writer,
)

CHAIN = "chain"  # the generated helper for a repeat that may be a single copy
_CHAIN_SOURCE = [
    f"def {CHAIN}(*modules: nn.Module) -> nn.Module:",
    '    """Copies one after another; a single copy stands alone, as the design names it."""',
    "    return modules[0] if len(modules) == 1 else nn.Sequential(*modules)",
]
_LISTED_AT_MOST = 3  # copies written one by one; more are written as a comprehension

Copies = tuple[Expr, str]  # a module and how many copies of it, in code


@dataclass(frozen=True)
class _Argument:
    """A constructor argument that no param gives (an in_channels): its name, and its
    value in each use of the class, by instance path."""

    name: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class _Class:
    """A written class, as the classes that hold its instances call it and verify finds
    its modules."""

    name: str
    params: Mapping[str, str]  # block param → its name in Python
    defaults: Mapping[str, Any]
    arguments: Sequence[_Argument]
    outputs: Sequence[str]  # the BlockOutput ids, by index
    paths: Mapping[str, str]  # member → the attribute of the module it calls
    calls: Mapping[str, int]  # member → its call of a module called more than once
    lines: Sequence[str]
    chains: bool  # whether it calls CHAIN


def export_blocks(
    nodes: Sequence[Member],
    edges: Sequence[EdgeRecord],
    library: Library,
    engine: Engine,
    flat: Flat,
    class_name: str | None = None,
) -> ExportedModule:
    """The design of `nodes` and `edges`, whose instances use `library`'s blocks, as Python
    source with a class per block it uses; `flat` is its flattening, which `engine`
    analyses. ExportError if a node has an error or cannot be written once for every use
    of its block."""
    engine.refresh()
    problems = [f"{node_id}: {r.error}" for node_id, r in engine.results.items() if r.error]
    if problems:
        raise ExportError(problems)
    arch = engine.arch
    inputs = [
        m.id
        for m in nodes
        if m.id in arch and arch.spec(m.id).inputs[1] == 0 and not _is_learned(arch, m.id)
    ]
    if not inputs:
        raise ExportError(["the design has no Input node"])
    if len(inputs) == len(nodes):
        raise ExportError(["the design has no layers after its input"])
    used = [b for b in library.order() if any(i.type == b for i in flat.instances.values())]
    names = _class_names([*used, class_name or arch.name or "Net"])
    reserved = naming.RESERVED | frozenset(names) | {CHAIN}
    classes: dict[str, _Class] = {}
    for block_id, name in zip(used, names):
        uses = {  # each use once: a repeated instance's copies, not the whole
            i.path: i.params
            for i in flat.instances.values()
            if i.type == block_id and i.repeat == 1
        }
        scope = _Scope(engine, flat, classes, name, f"block {block_id}", reserved)
        classes[block_id] = scope.write_block(
            library.order_of(block_id), library.incoming(block_id), uses, library[block_id].params
        )
    top = _Scope(engine, flat, classes, names[-1], "the design", reserved)
    design = top.write_design(scope_order(nodes, edges), incoming(edges), inputs)
    shapes = [engine.results[n].shape for n in inputs]
    dtypes = [engine.results[n].output.dtype for n in inputs]
    lines = top._header(inputs, shapes)
    if design.chains or any(c.chains for c in classes.values()):
        lines += [*_CHAIN_SOURCE, "", ""]
    for written in [*classes.values(), design]:
        lines += [*written.lines, "", ""]
    lines += top._main(shapes, dtypes, len(top.exits))
    paths, calls = _module_paths(flat, classes, design)
    source = "\n".join(lines) + "\n"
    return ExportedModule(source, design.name, shapes, dtypes, paths, top.exits, calls, runs=False)


def _class_names(texts: list[str]) -> list[str]:
    """A class name for each text (block ids, then the design's name), all distinct."""
    names: list[str] = []
    for text in texts:
        base = name = naming.class_name(text)
        counter = 2
        while name in names:
            name = f"{base}{counter}"
            counter += 1
        names.append(name)
    return names


def _module_paths(
    flat: Flat, classes: Mapping[str, _Class], design: _Class
) -> tuple[dict[str, str], dict[str, int]]:
    """Each flat layer's module path in the exported model (its own path where every
    attribute is its node's id) and its call of a module called more than once."""
    found = {"": ""}

    def owner(scope: str) -> _Class:
        return classes[flat.instances[scope].type] if scope else design

    def instance(path: str) -> str:
        """An instance's module path: its attribute, or its number among its copies."""
        if path not in found:
            scope = flat.instances[path].scope
            part = path[len(scope) + 1 :] if scope else path
            copy = bool(scope) and flat.instances[scope].repeat > 1
            found[path] = join(instance(scope), part if copy else owner(scope).paths[part])
        return found[path]

    paths, calls = {}, {}
    for node in flat.nodes:
        origin = flat.origins[node.id]
        written = owner(origin.scope)
        if origin.node in written.paths:
            path = join(instance(origin.scope), written.paths[origin.node])
            paths[node.id] = path if origin.copy is None else join(path, str(origin.copy))
        if origin.node in written.calls:
            calls[node.id] = written.calls[origin.node]
    return paths, calls


class _Scope(_Writer):
    """Writes one class: a block's, whose code holds for every use of the block, or the
    design's own, used once. Layers are written by the flat exporter, from their flat ids."""

    def __init__(
        self,
        engine: Engine,
        flat: Flat,
        classes: Mapping[str, _Class],
        class_name: str,
        where: str,
        reserved: frozenset[str],
    ) -> None:
        super().__init__(engine.arch, engine, class_name)
        self.flat = flat
        self.classes = classes  # the blocks written before, by id
        self.where = where  # what messages call this class's block
        self.init_names = naming.Namespace(reserved)  # the constructor's arguments
        self.params: dict[str, str] = {}  # block param → its name in Python
        self.arguments: list[_Argument] = []
        self.uses: Mapping[str, Mapping[str, Any]] = {"": {}}  # instance path → its params
        self.members: dict[str, Member] = {}  # in the order forward calls them
        self.edges_in: Mapping[str, list[EdgeRecord]] = {}
        self.candidates: list[str] = []  # the expressions that may give a value
        self.copies: dict[str, dict[str, list[str]]] = {}  # member → flat ids by use
        self.attributes: dict[str, str] = {}  # member → self.<attribute>
        self.paths: dict[str, str] = {}  # member → the attribute of its module
        self.labels: dict[str, str] = {}  # flat node → what its member is called
        self.values: dict[Output, str] = {}  # (member, slot) → what forward holds it in
        self.exits: list[Output] = []  # the flat outputs the design's forward returns
        self.chains = False

    # the class --------------------------------------------------------------------------

    def write_block(
        self,
        order: list[Member],
        edges_in: Mapping[str, list[EdgeRecord]],
        uses: Mapping[str, Mapping[str, Any]],
        defaults: Mapping[str, Any],
    ) -> _Class:
        """A block's class, for its `uses` (instance path → params)."""
        self.members = {m.id: m for m in order}
        self.edges_in = edges_in
        self.uses = uses
        self.params = {name: self.init_names.keep(name, "param") for name in defaults}
        texts = [e.text for m in order for value in m.params.values() for e in expressions(value)]
        self.candidates = list(dict.fromkeys([*texts, *defaults]))
        ins, outs = ([m.id for m in _ports(order, kind)] for kind in (BLOCK_INPUT, BLOCK_OUTPUT))
        returned = [_key(edges_in[output][0]) for output in outs]
        init, forward = self._body(ins, returned)
        arguments = [
            f"{a.name}: {type(next(iter(a.values.values()))).__name__}" for a in self.arguments
        ]
        typed = [_typed(self.params[name], value) for name, value in defaults.items()]
        return self._class([*arguments, *typed], init, forward, defaults, outs)

    def write_design(
        self, order: list[Member], edges_in: Mapping[str, list[EdgeRecord]], inputs: list[str]
    ) -> _Class:
        """The design's class: forward takes its inputs and returns what feeds nothing."""
        self.members = {m.id: m for m in order}
        self.edges_in = edges_in
        fed = {edge.source for edges in edges_in.values() for edge in edges}
        returned = [
            (m.id, slot)
            for m in order
            if m.id not in fed and m.id not in inputs
            for slot in range(self._outputs(m))
        ]
        init, forward = self._body(inputs, returned)
        self.exits = [self._exit(member_id, slot) for member_id, slot in returned]
        return self._class([], init, forward, {}, [])

    def _class(
        self,
        arguments: list[str],
        init: list[str],
        forward: list[str],
        defaults: Mapping[str, Any],
        outputs: list[str],
    ) -> _Class:
        owners = {m.id: o for m in self.members.values() if (o := _shares(m)) is not None}
        calls = {}
        for owner in set(owners.values()):
            group = [n for n in self.members if n == owner or owners.get(n) == owner]
            calls.update({node_id: index for index, node_id in enumerate(group)})
        paths = {**self.paths, **{n: self.paths[owner] for n, owner in owners.items()}}
        lines = [f"class {self.class_name}(nn.Module):"]
        lines += _signature(["self", *arguments], 0, "__init__")
        lines += ["        super().__init__()", *init, "", *forward]
        return _Class(
            self.class_name,
            self.params,
            defaults,
            self.arguments,
            outputs,
            paths,
            calls,
            lines,
            self.chains,
        )

    def _body(self, inputs: list[str], returned: list[Output]) -> tuple[list[str], list[str]]:
        """__init__'s statements, and forward, which takes `inputs` and returns `returned`.
        Attributes are named first, so each takes its node's id where it can."""
        members = [
            m
            for m in self.members.values()
            if m.id not in inputs and m.type not in (BLOCK_INPUT, BLOCK_OUTPUT)
        ]
        for member in members:
            self.copies[member.id] = self._paths(member)
            self._name_attribute(member)
        for member_id in inputs:
            name = "x" if len(inputs) == 1 else self.names.claim(self._label(member_id), "x")
            self.values[(member_id, 0)] = self.variables[(member_id, 0)] = name
        if inputs:
            self.batch = self.values[(inputs[0], 0)]
        used = {_key(edge) for edges in self.edges_in.values() for edge in edges}
        used.update(returned)
        tensors = [f"{self.values[(member_id, 0)]}: torch.Tensor" for member_id in inputs]
        init: list[str] = []
        forward = _signature(["self", *tensors], len(returned))
        for member in members:
            edges = sorted(self.edges_in.get(member.id, ()), key=lambda edge: edge.port)
            feeds = [Code(self.values[_key(edge)]) for edge in edges]
            if member.type in self.classes:
                init += self._instance(member)
                forward += self._called(member, feeds, used)
            else:
                init += self._layer(member)
                forward += self._forward(member, feeds, used)
        results = [Code(self.values[output]) for output in returned]
        if len(results) == 1:
            forward += statement(2, "return ", results[0])
        elif results:
            forward += statement(2, "return ", Bracketed("(", tuple(results), ")"))
        return init, forward

    def _name_attribute(self, member: Member) -> None:
        """A member's attribute, its id where it can be: a module's (whose path in torch
        is then its path in the flat design) or a learned tensor's."""
        if member.type in self.classes:
            self.paths[member.id] = self.names.keep(member.id, "block")
            self.attributes[member.id] = self.paths[member.id]
            return
        first = self._first(member)
        if _is_learned(self.arch, first):
            self.attributes[member.id] = self.names.keep(member.id, "parameter")
        elif _shares(member) is None and (
            isinstance(self.arch.spec(first).written_as, Module)
            or (member.type == "Custom" and self._custom_module(first))
        ):
            self.paths[member.id] = self.names.keep(member.id, member.type.lower())
            self.attributes[member.id] = self.paths[member.id]

    # __init__ ---------------------------------------------------------------------------

    def _layer(self, member: Member) -> list[str]:
        """What __init__ builds for a layer: its module or learned tensor, or nothing."""
        copies = self.copies[member.id]
        nodes = [node_id for ids in copies.values() for node_id in ids]
        attribute = self.attributes.get(member.id)
        spec = self.arch.spec(nodes[0])
        if attribute is None:  # an operation, or a call of another layer's module
            return []
        if spec.inputs[1] == 0 and not _is_learned(self.arch, nodes[0]):
            raise ExportError(
                [f"{self.where}, {member.id}: a block takes its inputs through BlockInputs"]
            )
        if not isinstance(spec.written_as, Module):  # a learned tensor, or Custom's module
            if _is_learned(self.arch, nodes[0]):
                self.learned.update(dict.fromkeys(nodes, attribute))
                code = self._one(member, {n: self._parameter(n) for n in nodes})
            else:
                self.customs.update(dict.fromkeys(nodes, attribute))
                code = self._one(member, {n: Code(self._custom_module(n)) for n in nodes})
            return statement(2, f"self.{attribute} = ", code)
        written = {
            name: self._source(value) for name, value in member.params.items() if expressions(value)
        }
        if repeat_of(member) != 1 and self._slots(nodes[0]) > 1:
            where = f"{self.where}, {member.id}"
            raise ExportError([f"{where}: nn.Sequential cannot chain a layer of several outputs"])
        first = self._module_code(member, {use: ids[:1] for use, ids in copies.items()}, written)
        later = {use: ids[1:] for use, ids in copies.items() if len(ids) > 1}
        rest = self._module_code(member, later, written) if later else first
        return self._assign(member, first, rest)

    def _module_code(
        self, member: Member, ids: Mapping[str, list[str]], written: Mapping[str, str]
    ) -> Expr:
        """`nn.Type(args)` of the copies `ids` (by use), what they leave to their input
        written as `_argument` says."""
        spec = self.arch.spec_of(member.type)
        inferred = {
            node_id: spec.filled_from_input(
                spec.resolve(self.arch.params_of(node_id)),
                self.engine.results[node_id].input_shapes[0],
            )
            for nodes in ids.values()
            for node_id in nodes
        }
        arguments = dict(written)
        for name in inferred[next(iter(inferred))]:
            found = {node_id: values[name] for node_id, values in inferred.items()}
            values = self._per_use(member, name, ids, found)
            source = self._argument(name, values, member.id)
            if source is not None:
                arguments[name] = source
        return self._one(
            member, {n: self._module(n, arguments) for nodes in ids.values() for n in nodes}
        )

    def _instance(self, member: Member) -> list[str]:
        """What __init__ builds for an instance: the block's class, or its copies."""
        copies = self.copies[member.id]
        first = self._instance_code(member, {use: ids[:1] for use, ids in copies.items()})
        later = {use: ids[1:] for use, ids in copies.items() if len(ids) > 1}
        rest = self._instance_code(member, later) if later else first
        return self._assign(member, first, rest)

    def _instance_code(self, member: Member, ids: Mapping[str, list[str]]) -> Expr:
        """`Block(arguments, param=value)`: what the block's class needs from its input,
        then the params that differ from its defaults."""
        target = self.classes[member.type]
        items: list[Expr | Keyword] = []
        for argument in target.arguments:
            values = self._per_use(member, argument.name, ids, argument.values)
            source = self._argument(argument.name, values, member.id)
            items.append(Code(literal(next(iter(values.values()))) if source is None else source))
        for name, python_name in target.params.items():
            value = member.params.get(name, target.defaults[name])
            if expressions(value) or value != target.defaults[name]:
                items.append(Keyword(python_name, Code(self._source(value))))
        return call(target.name, *items)

    def _assign(self, member: Member, first: Expr, rest: Expr) -> list[str]:
        """`self.name = module`, or the copies of a repeated member in an nn.Sequential
        (in CHAIN where a use has one copy, which the design does not number)."""
        prefix = f"self.{self.attributes[member.id]} = "
        repeat = repeat_of(member)
        if repeat == 1:
            return statement(2, prefix, first)
        if isinstance(repeat, int):
            if repeat <= _LISTED_AT_MOST:
                return statement(2, prefix, call("nn.Sequential", first, *[rest] * (repeat - 1)))
            count, fewer, wrapper = str(repeat), str(repeat - 1), "nn.Sequential"
        else:
            text = repeat["expr"]
            count, fewer = self._python(text), self._python(f"({text}) - 1")
            alone = any(len(ids) == 1 for ids in self.copies[member.id].values())
            self.chains |= alone
            wrapper = CHAIN if alone else "nn.Sequential"
        if first.flat() == rest.flat():
            return _sequence(prefix, wrapper, [(first, count)])
        return _sequence(prefix, wrapper, [first, (rest, fewer)])

    # forward ----------------------------------------------------------------------------

    def _forward(self, member: Member, feeds: list[Code], used: set[Output]) -> list[str]:
        """A layer's statement in forward: its module called, or its operation."""
        nodes = [node_id for ids in self.copies[member.id].values() for node_id in ids]
        last = next(iter(self.copies[member.id].values()))[-1]
        writing = self.arch.spec(last).written_as
        owner = _shares(member)
        if owner is not None:  # the same module again, on another input
            expr: Expr = call(f"self.{self.attributes[owner]}", *feeds)
        elif isinstance(writing, Module):
            expr = call(f"self.{self.attributes[member.id]}", *feeds)
        else:
            self._alone(member)
            expr = self._one(member, {n: self._expression(n, writing, feeds) for n in nodes})
        mine = {(last, slot) for node_id, slot in used if node_id == member.id}
        if not mine:  # nothing reads it
            return statement(2, "", expr)
        self.labels[last] = self._label(member.id)
        targets = self._targets(last, self.attributes.get(member.id, ""), mine)
        for slot in range(self._slots(last)):
            if (last, slot) in self.variables:
                self.values[(member.id, slot)] = self.variables[(last, slot)]
        return statement(2, f"{targets} = ", expr)

    def _called(self, member: Member, feeds: list[Code], used: set[Output]) -> list[str]:
        """An instance's statement in forward: its module called, a variable per output
        read (`_` for the others)."""
        target = self.classes[member.type]
        expr = call(f"self.{self.attributes[member.id]}", *feeds)
        read = [(member.id, slot) in used for slot in range(len(target.outputs))]
        if not any(read):
            return statement(2, "", expr)
        if len(read) == 1:
            names = [self.attributes[member.id]]
        else:
            label = self._label(member.id)
            names = [
                self.names.claim(f"{label} {output}", "output") if reads else "_"
                for output, reads in zip(target.outputs, read)
            ]
        for slot, name in enumerate(names):
            if read[slot]:
                self.values[(member.id, slot)] = name
        return statement(2, f"{', '.join(names)} = ", expr)

    def _claim(self, node_id: str, slot_name: str = "") -> str:
        """A variable named as the layer is in its block, not by its path."""
        label = f"{self.labels[node_id]} {slot_name}"
        return self.names.claim(label, self.arch.type_of(node_id).lower())

    # values that differ between uses ----------------------------------------------------

    def _argument(self, name: str, values: Mapping[str, Any], member_id: str) -> str | None:
        """How the class writes a value its code needs that no param gives as written
        (an in_channels), from its value in each use: an expression of the params that
        gives every use's, those of the layers that feed it first; None where it is one
        value in every use, written as it is; else an argument of the constructor, named
        as what reads it where that reads the block's input (in_channels), else after the
        member too (mix_in_channels)."""
        near = self._near(member_id) if self.candidates else []
        for text in near:
            if self._gives(text, values):
                return self._python(text)
        if len({repr(value) for value in values.values()}) == 1:
            return None
        for argument in self.arguments:
            if all(argument.values[use] == value for use, value in values.items()):
                return argument.name
        for text in self.candidates:
            if self._gives(text, values):
                return self._python(text)
        some = next(iter(values.values()))  # for a use without this copy: nothing reads it
        given = {use: values.get(use, some) for use in self.uses}
        edges = self.edges_in.get(member_id, ())
        if not any(e.port == 0 and self.members[e.source].type == BLOCK_INPUT for e in edges):
            name = f"{self._label(member_id)} {name}"
        self.arguments.append(_Argument(self.init_names.keep(name, "size"), given))
        return self.arguments[-1].name

    def _near(self, member_id: str) -> list[str]:
        """The expressions in the params of the members that feed this one, nearest first."""
        found: list[str] = []
        seen, queue = {member_id}, deque([member_id])
        while queue:
            for edge in self.edges_in.get(queue.popleft(), ()):
                if edge.source not in seen:
                    seen.add(edge.source)
                    queue.append(edge.source)
                    params = self.members[edge.source].params
                    found += [e.text for value in params.values() for e in expressions(value)]
        return found

    def _gives(self, text: str, values: Mapping[str, Any]) -> bool:
        """Whether an expression gives each use's value (of the same type: True is not 1)."""
        try:
            found = {use: evaluate(text, self.uses[use]) for use in values}
        except ExprError:
            return False
        return all(type(found[use]) is type(v) and found[use] == v for use, v in values.items())

    def _per_use(
        self, member: Member, name: str, ids: Mapping[str, list[str]], found: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The value `name` has in each use, `found` by flat id: the same in each of the
        copies `ids` of the use."""
        values = {}
        for use, nodes in ids.items():
            seen = {repr(found[n]): n for n in nodes}
            if len(seen) > 1:
                (a, first), (b, second) = list(seen.items())[:2]
                raise ExportError(
                    [f"{self.where}, {member.id}: {name} is {a} in {first} but {b} in {second}"]
                )
            values[use] = found[nodes[0]]
        return values

    def _one(self, member: Member, codes: Mapping[str, Expr]) -> Expr:
        """A member's code, the same in every use; ExportError where two uses differ."""
        seen: dict[str, str] = {}
        for node_id, code in codes.items():
            seen.setdefault(code.flat(), node_id)
        if len(seen) > 1:
            (a, first), (b, second) = list(seen.items())[:2]
            raise ExportError(
                [
                    (
                        f"{self.where}, {member.id}: is {a} in {first} but {b} in {second}; "
                        "one class cannot write both"
                    )
                ]
            )
        return next(iter(codes.values()))

    def _alone(self, member: Member) -> None:
        """Refuse a repeat of what no nn.Sequential holds: an operation, a learned tensor."""
        if repeat_of(member) != 1:
            raise ExportError(
                [f"{self.where}, {member.id}: a repeated {member.type} has no nn.Sequential"]
            )

    # names and code ---------------------------------------------------------------------

    def _python(self, text: str) -> str:
        """An expression as Python, its params by their names in the constructor."""
        tree = ast.parse(text.strip(), mode="eval")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                node.id = self.params[node.id]
        return ast.unparse(tree)

    def _source(self, value: Any) -> str:
        """A param value as code: an expression as Python (a list holding some as a
        tuple), any other value as itself."""
        if is_expr(value):
            return self._python(value["expr"])
        if isinstance(value, (list, tuple)) and expressions(value):
            items = [self._source(item) for item in value]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        return literal(value)

    def _paths(self, member: Member) -> dict[str, list[str]]:
        """A member's flat ids (an instance's paths) in each use: its own, or its copies'."""
        found = {}
        for use, params in self.uses.items():
            path = join(use, member.id)
            count = resolve(repeat_of(member), params)
            found[use] = [path] if count == 1 else [join(path, str(k)) for k in range(count)]
        return found

    def _first(self, member: Member) -> str:
        return next(iter(self.copies[member.id].values()))[0]

    def _label(self, member_id: str) -> str:
        member = self.members[member_id]
        return member.name or member.id

    def _outputs(self, member: Member) -> int:
        if member.type in self.classes:
            return len(self.classes[member.type].outputs)
        return self._slots(self._paths(member)[""][-1])

    def _exit(self, member_id: str, slot: int) -> Output:
        """The flat output that a slot of a member of the design is."""
        member = self.members[member_id]
        if member.type not in self.classes:
            return (self.copies[member_id][""][-1], slot)
        found = self.flat.instances[member_id].outputs[slot]
        if found is None:
            raise ExportError([f"{member_id}: output {slot} is fed by nothing"])
        return found


def _ports(order: list[Member], kind: str) -> list[Member]:
    """A block's BlockInputs (or BlockOutputs), by index."""
    return sorted((m for m in order if m.type == kind), key=lambda m: m.params.get("index", 0))


def _shares(member: Member) -> str | None:
    """The member whose module this one calls, if it shares another's weights."""
    return getattr(member, "shares", None)


def _key(edge: EdgeRecord) -> Output:
    return (edge.source, edge.output)


def _typed(name: str, default: Any) -> str:
    """A constructor parameter with its default, annotated where the default says how."""
    if type(default) in (bool, int, float, str, list):
        return f"{name}: {type(default).__name__} = {literal(default)}"
    return f"{name}={literal(default)}"


def _sequence(prefix: str, wrapper: str, parts: list[Expr | Copies]) -> list[str]:
    """`self.name = nn.Sequential(first, *[copy for _ in range(n)])`, laid out as ruff
    format does."""
    texts = [_text(part) for part in parts]
    indent, inner = INDENT * 2, INDENT * 3
    line = f"{indent}{prefix}{wrapper}({', '.join(texts)})"
    if len(line) <= LINE_LENGTH:
        return [line]
    lines = [f"{indent}{prefix}{wrapper}("]
    if len(inner + ", ".join(texts)) <= LINE_LENGTH:
        lines.append(inner + ", ".join(texts))
    else:
        comma = "," if len(parts) > 1 else ""  # a lone argument takes no trailing comma
        for part in parts:
            if not isinstance(part, tuple):
                lines += statement(3, "", part, comma)
            elif len(f"{inner}{_text(part)}{comma}") <= LINE_LENGTH:
                lines.append(f"{inner}{_text(part)}{comma}")
            else:
                module, count = part
                lines += [f"{inner}*[", *statement(4, "", module)]
                lines += [f"{inner}{INDENT}for _ in range({count})", f"{inner}]{comma}"]
    return [*lines, f"{indent})"]


def _text(part: Expr | Copies) -> str:
    if isinstance(part, tuple):
        module, count = part
        return f"*[{module.flat()} for _ in range({count})]"
    return part.flat()
