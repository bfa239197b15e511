"""Flattening: a design with block instances as the plain design the engine analyses, and
the engine's results read back per instance.

Every instance is expanded into its block's layers, in place, recursively. A layer's id
in the flat design is its path: the ids of the instances around it and its own, joined
by dots (`stage1.first.c2`). A repeated node's copies are numbered from 0, as PyTorch's
`nn.Sequential` names its children: copy k of instance `stage1.rest` holds
`stage1.rest.k.c2`, and copy k of a repeated layer `conv` is `conv.k`. A node used once
(`repeat` 1) takes no number.

`BlockInput` and `BlockOutput` are not layers: flattening removes them and rewires their
edges, so whatever feeds an instance's port p feeds the layers that read BlockInput p,
and whatever reads its slot s reads what feeds BlockOutput s. `{"expr"}` values are
evaluated against the instance's params (the block's defaults, overridden by the
instance's own, themselves evaluated in the scope around it).

`Flat.origins` leads each layer back to the instance and inner node it comes from;
`Flat.instances` describes each instance (repeated ones and each of their copies), and
`instance_totals` sums the engine's results over each one's layers: one report row per
instance. Errors carry the path, which names the instance and the inner node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from designer.core.analysis import NodeResult, Sums, Totals
from designer.core.blocks import (
    BLOCK_INPUT,
    BLOCK_OUTPUT,
    BlockDef,
    BlockError,
    Library,
    Member,
    check_scope,
    incoming,
    join,
    repeat_of,
    scope_order,
)
from designer.core.expr import ExprError, resolve
from designer.core.graph import Architecture, Catalog, EdgeRecord, GraphError, NodeRecord
from designer.core.params import show_value
from designer.core.propagate import Engine
from designer.core.spec import Tensor

MAX_FLAT_NODES = 2_000_000  # layers a flattened design may hold: twice a large file's

Exit = tuple[str, int]  # a flat layer's output slot: (its id, the slot)


@dataclass(frozen=True)
class Origin:
    """Where a flat layer comes from: node `node` of the instance at path `scope` ('' for
    the design itself); `copy` is its place in a repeated layer's chain, else None."""

    scope: str
    node: str
    copy: int | None = None


@dataclass(frozen=True)
class InstanceInfo:
    """One instance in the flat design. `type` is its block id (a layer type for a
    repeated layer); `params` are what it is built with, the block's defaults overridden.
    `scope` is the path of the instance around it ('' for the design). A repeated one
    (`repeat` > 1) is a row of its own besides its copies, `copies`. `members` are the
    flat ids of every layer inside, nested ones too; `inputs` what feeds each input port
    and `outputs` what each output slot is (None where nothing does)."""

    path: str
    type: str
    params: Mapping[str, Any]
    scope: str
    repeat: int
    members: tuple[str, ...]
    inputs: tuple[Exit | None, ...]
    outputs: tuple[Exit | None, ...]

    @property
    def copies(self) -> list[str]:
        """The paths of a repeated instance's copies, in chain order (none if used once)."""
        return [join(self.path, str(k)) for k in range(self.repeat)] if self.repeat > 1 else []


@dataclass(frozen=True)
class Flat:
    """A design with every instance expanded: plain layers whose ids are paths."""

    nodes: tuple[NodeRecord, ...]
    edges: tuple[EdgeRecord, ...]
    origins: Mapping[str, Origin]
    instances: Mapping[str, InstanceInfo]  # by path, each before the instances inside it
    catalog: Catalog = field(repr=False)  # the layer types, the library's

    def architecture(self, name: str = "") -> Architecture:
        """The flat design as an Architecture to analyse. A BlockError lists every param
        a layer refuses, each named by its path (`stage1.first.c2: out_channels: …`)."""
        records, problems = [], []
        for node in self.nodes:
            canonical, refused = self.catalog[node.type].examine(node.params)
            problems += [f"{node.id}: {error}" for error in refused]
            records.append(replace(node, params=canonical))
        if problems:
            raise BlockError(problems)
        try:
            return Architecture.build(name, records, self.edges, self.catalog, canonical=True)
        except GraphError as error:
            raise BlockError([str(error)]) from None


@dataclass(frozen=True)
class InstanceTotals:
    """An instance's report row: its layers' totals, the tensor of each output slot (None
    where there is none) and each error inside, `path: message`."""

    totals: Totals
    outputs: tuple[Tensor | None, ...]
    errors: tuple[str, ...]


def flatten(
    nodes: Sequence[Member],
    edges: Sequence[EdgeRecord],
    library: Library,
    *,
    limit: int = MAX_FLAT_NODES,
) -> Flat:
    """The design of `nodes` and `edges`, whose instances use `library`'s blocks, with
    every instance expanded. A BlockError lists every problem, each naming its place."""
    problems = check_scope("the design", nodes, edges, library, None)
    if problems:
        raise BlockError(problems)
    expander = _Expander(library, limit)
    try:
        expander.scope("", scope_order(nodes, edges), incoming(edges), {}, {})
    except _TooLarge:
        raise BlockError(
            [f"the design flattens to more than {limit:,} layers; use fewer or smaller repeats"]
        ) from None
    if expander.problems:
        raise BlockError(expander.problems)
    instances = {path: expander.infos[path] for path in expander.rows}
    return Flat(
        tuple(expander.nodes), tuple(expander.edges), expander.origins, instances, library.catalog
    )


def instance_totals(engine: Engine, flat: Flat) -> dict[str, InstanceTotals]:
    """Each instance's row, by path: sums over its layers' results in `engine`, which
    analyses `flat.architecture()`."""
    engine.refresh()
    results, settings = engine.results, engine.settings
    rows = {}
    for path, info in flat.instances.items():
        inner = [results[member] for member in info.members]
        errors = tuple(instance_errors(info, results))
        outputs = tuple(
            None if exit is None else results[exit[0]].slot(exit[1]) for exit in info.outputs
        )
        rows[path] = InstanceTotals(Sums.over(inner).totals(settings), outputs, errors)
    return rows


def instance_errors(info: InstanceInfo, results: Mapping[str, NodeResult]) -> list[str]:
    """The errors of an instance's row, each by its path inside. Where an input port of
    the instance is fed by nothing and layers inside say they are not connected, the port
    comes first, said as a layer says it, in place of what they say."""
    errors = [
        f"{member}: {results[member].error}" for member in info.members if results[member].error
    ]
    unfed = next((port for port, exit in enumerate(info.inputs) if exit is None), None)
    others = [error for error in errors if not _NOT_CONNECTED.search(error)]
    if unfed is None or len(others) == len(errors):  # nothing inside reads what is missing
        return errors
    return [f"input port {unfed} is not connected", *others]


_NOT_CONNECTED = re.compile(r": input port \d+ is not connected$")


class _TooLarge(Exception):
    """The flat design passed its limit: flattening stops at once."""


class _Expander:
    """Writes the flat design node by node, depth first: an instance's layers lie together."""

    def __init__(self, library: Library, limit: int) -> None:
        self.library = library
        self.limit = limit
        self.nodes: list[NodeRecord] = []
        self.edges: list[EdgeRecord] = []
        self.origins: dict[str, Origin] = {}
        self.rows: list[str] = []  # instance paths, each before the instances inside it
        self.infos: dict[str, InstanceInfo] = {}
        self.problems: list[str] = []

    def scope(
        self,
        scope: str,
        order: list[Member],
        edges_in: dict[str, list[EdgeRecord]],
        env: Mapping[str, Any],
        feeds: Mapping[int, Exit | None],
    ) -> dict[int, Exit | None]:
        """Expand one block's inside (or the design's top level) at path `scope`, whose
        ports are fed by `feeds`, with params `env`; what each BlockOutput reads."""
        exits: dict[str, str | dict[int, Exit | None]] = {}  # a layer's path, or slots

        def source(edge: EdgeRecord) -> Exit | None:
            found = exits[edge.source]
            return (found, edge.output) if isinstance(found, str) else found.get(edge.output)

        outputs: dict[int, Exit | None] = {}
        for member in order:
            feeding = {edge.port: source(edge) for edge in edges_in.get(member.id, ())}
            path = join(scope, member.id)
            if member.type == BLOCK_INPUT:
                exits[member.id] = {0: feeds.get(member.params.get("index", 0))}
            elif member.type == BLOCK_OUTPUT:
                outputs[member.params.get("index", 0)] = feeding.get(0)
            elif member.type in self.library:
                exits[member.id] = self.instance(path, scope, member, env, feeding)
            else:
                exits[member.id] = self.layer(path, scope, member, env, feeding)
        return outputs

    def instance(
        self,
        path: str,
        scope: str,
        member: Member,
        env: Mapping[str, Any],
        feeding: dict[int, Exit | None],
    ) -> dict[int, Exit | None]:
        """An instance's layers (its copies', where repeated); what its output slots are."""
        block = self.library[member.type]
        params = {**block.params, **self.resolved(path, member.params, env)}
        count = self.repeat(path, member, env)
        if count == 1:
            return self.expand(path, scope, block, params, feeding)
        self.rows.append(path)
        start, feeds = len(self.nodes), feeding
        for k in range(count):
            outputs = self.expand(join(path, str(k)), path, block, params, feeds)
            feeds = {0: outputs.get(0)}
        self.infos[path] = self.info(path, block, params, scope, count, start, feeding, outputs)
        return outputs

    def expand(
        self,
        path: str,
        scope: str,
        block: BlockDef,
        params: dict[str, Any],
        feeds: Mapping[int, Exit | None],
    ) -> dict[int, Exit | None]:
        """One use of a block at `path`: its layers, and its row."""
        self.rows.append(path)
        start = len(self.nodes)
        order, edges_in = self.library.order_of(block.id), self.library.incoming(block.id)
        outputs = self.scope(path, order, edges_in, params, feeds)
        self.infos[path] = self.info(path, block, params, scope, 1, start, feeds, outputs)
        return outputs

    def info(
        self,
        path: str,
        block: BlockDef,
        params: dict[str, Any],
        scope: str,
        count: int,
        start: int,
        feeds: Mapping[int, Exit | None],
        outputs: Mapping[int, Exit | None],
    ) -> InstanceInfo:
        return InstanceInfo(
            path,
            block.id,
            params,
            scope,
            count,
            tuple(node.id for node in self.nodes[start:]),
            tuple(feeds.get(port) for port in range(block.inputs)),
            tuple(outputs.get(slot) for slot in range(block.outputs)),
        )

    def layer(
        self,
        path: str,
        scope: str,
        member: Member,
        env: Mapping[str, Any],
        feeding: dict[int, Exit | None],
    ) -> str:
        """A layer (its copies, where repeated); the path of the one whose output goes on."""
        params = self.resolved(path, member.params, env)
        count = self.repeat(path, member, env)
        shares = getattr(member, "shares", None)
        if count == 1:
            record = NodeRecord(
                path,
                member.type,
                params,
                member.name,
                member.pos,
                shares=None if shares is None else join(scope, shares),
            )
            self.add(record, Origin(scope, member.id), feeding)
            return path
        copies = [join(path, str(k)) for k in range(count)]
        for k, copy in enumerate(copies):
            record = NodeRecord(copy, member.type, dict(params), member.name, member.pos)
            self.add(
                record, Origin(scope, member.id, k), feeding if k == 0 else {0: (copies[k - 1], 0)}
            )
        self.rows.append(path)
        self.infos[path] = InstanceInfo(
            path,
            member.type,
            params,
            scope,
            count,
            tuple(copies),
            (feeding.get(0),),
            ((copies[-1], 0),),
        )
        return copies[-1]

    def add(self, record: NodeRecord, origin: Origin, feeding: Mapping[int, Exit | None]) -> None:
        if record.id in self.origins:
            self.problems.append(
                f"{record.id}: two nodes flatten to this id; rename one (ids are joined by '.')"
            )
            return
        if len(self.nodes) >= self.limit:
            raise _TooLarge
        self.nodes.append(record)
        self.origins[record.id] = origin
        for port, feed in feeding.items():
            if feed is not None:
                self.edges.append(EdgeRecord(feed[0], record.id, port, feed[1]))

    def resolved(
        self, path: str, values: Mapping[str, Any], env: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Values with their expressions evaluated against `env`; refusals noted."""
        resolved = {}
        for name, value in values.items():
            try:
                resolved[name] = resolve(value, env)
            except ExprError as error:
                self.problems.append(f"{path}: {name}: {error}")
        return resolved

    def repeat(self, path: str, member: Member, env: Mapping[str, Any]) -> int:
        """How many copies of `member`: its `repeat`, evaluated; 1 where refused (noted)."""
        try:
            count = resolve(repeat_of(member), env)
        except ExprError as error:
            self.problems.append(f"{path}: repeat: {error}")
            return 1
        if type(count) is not int or count < 1:
            self.problems.append(f"{path}: repeat: must be an int ≥ 1, got {show_value(count)}")
            return 1
        if count > self.limit:
            raise _TooLarge
        return count
