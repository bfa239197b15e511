"""Incremental propagation: keeps every node's NodeResult current as the graph is edited.

The engine listens to the Architecture. An edit marks the nodes it touched; `refresh`
re-evaluates them in topological order and walks downstream only while a node's output
(shape and receptive fields) or its error state changed, so an edit that changes nothing
downstream costs one evaluation.
"""

from __future__ import annotations

import heapq
from typing import Any

from designer.core.analysis import (
    NodeResult,
    Settings,
    Sums,
    Totals,
    neighbour_warnings,
    oversized_field_warning,
)
from designer.core.columns import Feed
from designer.core.graph import Architecture, Change, ChangeKind
from designer.core.memo import memo_for, new_tuple, replay
from designer.core.receptive import Fields, merged_fields
from designer.core.spec import LayerSpec, Shape, Tensor


class Engine:
    """The analysis of one Architecture, kept up to date edit by edit."""

    def __init__(self, arch: Architecture, settings: Settings | None = None) -> None:
        self.arch = arch
        self._catalog = arch.catalog
        self.settings = settings or Settings()
        self.results: dict[str, NodeResult] = {}
        self._dirty: set[str] = set()  # nodes edited since the last refresh
        self._everything = True  # every node to evaluate: a new engine, or new settings
        self._order: list[str] | None = None  # None after a structural edit
        self._position: dict[str, int] | None = None  # built when a downstream walk needs it
        self._memo = memo_for(self.settings)
        self._sums: Sums | None = None  # None: summed again when next asked
        arch.subscribe(self._on_change)

    def close(self) -> None:
        """Stop following the Architecture."""
        self.arch.unsubscribe(self._on_change)

    def set_settings(self, settings: Settings) -> None:
        """Memory figures depend on batch and dtype: everything is re-evaluated."""
        self.settings = settings
        self._memo = memo_for(settings)
        self._everything = True

    def totals(self) -> Totals:
        """The sums over every node. A small edit adjusts them by what it replaced; a
        large one has them summed again here."""
        self.update()
        if self._sums is None:
            self._sums = Sums.over(self.results.values())
        return self._sums.totals(self.settings)

    def result(self, node_id: str) -> NodeResult:
        self.update()
        return self.results[node_id]

    def refresh(self) -> set[str]:
        """Bring results up to date; returns the ids whose results changed or went away."""
        return self._bring_up_to_date(listing=True)

    def update(self) -> None:
        """Bring results up to date, as `refresh` does, without saying what changed: after
        a first analysis that is every node, a set not worth building where nobody asks."""
        self._bring_up_to_date(listing=False)

    def _bring_up_to_date(self, listing: bool) -> set[str]:
        """What changed: listed in full only where `listing` (else a first analysis leaves
        its new results out)."""
        if not self._dirty and not self._everything:
            return set()
        if not self.results and self.arch.columns is not None:  # nothing edited yet
            return self._evaluate_columns(listing)
        graph = self.arch.graph
        present = graph._node  # networkx's node dict: membership without the view's overhead
        changed = {n for n in self._dirty if n not in present}
        replaced: list[NodeResult] = []  # results gone or replaced: what the sums lose
        for gone in changed:
            old = self.results.pop(gone, None)
            if old is not None:
                replaced.append(old)
        if self._order is None:
            self._order = self.arch.evaluation_order()
            self._position = None
        pending = [] if self._everything else [n for n in self._dirty if n in present]
        self._dirty.clear()
        if self._everything or len(pending) == len(graph):
            self._everything = False
            self._evaluate_all(changed, listing)
            self._sums = None
        else:
            self._evaluate_downstream(pending, changed, replaced)
            if self._sums is not None and 2 * len(changed) < len(graph):
                self._sums = self._sums.replacing(
                    replaced, [self.results[n] for n in changed if n in present]
                )
            else:
                self._sums = None
        return changed

    def _evaluate_all(self, changed: set[str], listing: bool) -> None:
        results, evaluate, order = self.results, self._evaluate, self._order
        graph = self.arch.graph
        nodes, pred = graph._node, graph._pred
        if order == list(nodes):  # the file's order (networkx keeps its dicts in one order):
            datas, preds = nodes.values(), pred.values()  # its dicts read in turn
        else:
            datas, preds = map(nodes.__getitem__, order), map(pred.__getitem__, order)
        if not results:  # a first analysis: every result is new. `update` stores each one
            results.update(zip(order, map(evaluate, order, datas, preds)))  # before the next
            if listing:  # is evaluated, which may read it: a loop run in C
                changed.update(results)
            return
        for node_id, data, sources in zip(order, datas, preds):
            new = evaluate(node_id, data, sources)
            if results.get(node_id) != new:
                results[node_id] = new
                changed.add(node_id)

    def _evaluate_columns(self, listing: bool) -> set[str]:
        """A first analysis of a design held as a file's columns (no graph written): in
        the file's order, which is its evaluation order there."""
        ids, layers, sources = self.arch.columns.feed()
        self._order, self._position = ids, None
        self._everything, self._sums = False, None
        self.results.update(zip(ids, map(self._evaluate, ids, layers, sources)))
        return set(self.results) if listing else set()

    def _evaluate_downstream(
        self, pending: list[str], changed: set[str], replaced: list[NodeResult]
    ) -> None:
        """Walk down from the edited nodes, only while what successors read changes;
        the results it replaces go to `replaced`."""
        if self._position is None:
            self._position = {node: i for i, node in enumerate(self._order)}
        position, results, evaluate = self._position, self.results, self._evaluate
        graph = self.arch.graph
        nodes, pred, succ = graph._node, graph._pred, graph._succ
        heap = [(position[n], n) for n in pending]
        heapq.heapify(heap)
        queued = set(pending)
        while heap:
            _, node_id = heapq.heappop(heap)
            old = results.get(node_id)
            new = evaluate(node_id, nodes[node_id], pred[node_id])
            if old is not None and _reads_the_same(old, new):
                if new != old:  # its own figures or warnings changed, not what follows
                    results[node_id] = new
                    changed.add(node_id)
                    replaced.append(old)
                continue
            results[node_id] = new
            changed.add(node_id)
            if old is not None:
                replaced.append(old)
            for consumer in succ[node_id]:
                if consumer not in queued:
                    queued.add(consumer)
                    heapq.heappush(heap, (position[consumer], consumer))

    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.COSMETIC:
            return
        if change.kind is ChangeKind.STRUCTURE:
            self._order = None
            self._dirty.update(self._looking_through(change.nodes))
        self._dirty.update(change.nodes)

    def _looking_through(self, nodes: frozenset[str]) -> set[str]:
        """Nodes whose neighbour warnings look back through shape-only layers to one of
        `nodes`: rewiring a Dropout's input changes what the Linear after it follows,
        though the Dropout's output stays the same."""
        arch, found = self.arch, set()
        frontier = [n for n in nodes if n in arch and arch.spec(n).shape_only]
        while frontier:
            for consumer in arch.consumers(frontier.pop()):
                if consumer not in found:
                    found.add(consumer)
                    if arch.spec(consumer).shape_only:
                        frontier.append(consumer)
        return found

    def _evaluate(self, node_id: str, data: dict, sources: Feed) -> NodeResult:
        """One node's result from its inputs' results (`sources` is networkx's predecessor
        dict of the node, or the id of the node whose output 0 alone feeds it). This is the
        hot path of every analysis, so a layer fed on port 0 alone, the common case, is
        decided here from the memo without further calls."""
        spec = self._catalog[data["type"]]
        if sources.__class__ is str:
            if not spec.takes_one_input:
                return self._evaluate_several(node_id, data, spec, {sources: {0: {}}})
            source, slot = sources, 0
        else:
            if not spec.takes_one_input or len(sources) != 1:
                return self._evaluate_several(node_id, data, spec, sources)
            ((source, ports),) = sources.items()
            edge = ports.get(0)
            if edge is None or len(ports) != 1:
                return self._evaluate_several(node_id, data, spec, sources)
            slot = edge.get("output", 0)
        upstream = self.results[source]
        x = upstream.slot(slot) if slot else upstream.output
        if x is None:
            return _missing_input(source, upstream, slot)
        key = (data["signature"], x.shape, x.fields is None, x.dtype, x.batch_axis)
        known = self._memo.known.get(key) or self._memo.learn(
            spec,
            data["params"],
            (x.shape,),
            (x.dtype,),
            0 if x.fields is None else len(x.fields),
            key,
            (x.batch_axis,),
        )
        out = known.output
        if out is None:
            return new_tuple(NodeResult, (None,) + known.tail)
        extra = ()
        if known.passes_input:  # a pointwise layer: its input goes on as it is
            tensor = x
        elif known.keeps_fields:
            tensor = new_tuple(Tensor, (out.shape, x.fields, out.dtype, out.batch_axis))
        else:
            fields = replay(out.fields, x.fields)
            tensor = new_tuple(Tensor, (out.shape, fields, out.dtype, out.batch_axis))
            # (past the first that exceeds, most inputs exceed: that is tested first)
            if (
                fields is not None
                and not _exceeds(x.fields)
                and _exceeds(fields)
                and not _global_reduction(x.shape, out.shape)
            ):
                extra = (oversized_field_warning(fields),)
        if known.neighbourly:
            extra = (*neighbour_warnings(self.arch, node_id, spec, known.resolved), *extra)
        result = new_tuple(NodeResult, (tensor,) + known.tail)
        if out.more:  # the other output slots, on this input's fields
            more = tuple(t._replace(fields=replay(t.fields, x.fields)) for t in out.more)
            result = result._replace(more=more)
        if "shares" in data:  # its weights are counted once, on the node that holds them
            result = result._replace(params=0, buffers=0)
        return result._replace(warnings=result.warnings + extra) if extra else result

    def _evaluate_several(
        self, node_id: str, data: dict, spec: LayerSpec, sources: dict[str, dict[int, Any]]
    ) -> NodeResult:
        """Merges, the Input, and any node whose ports are not wired one to one."""
        feeds = [
            (port, source, edge.get("output", 0))
            for source, ports in sources.items()
            for port, edge in ports.items()
        ]
        feeds.sort()
        problem = _port_problem(spec.name, spec.inputs, feeds)
        if problem:
            return NodeResult(None, error=problem)
        results = self.results
        tensors = []
        for _, source, slot in feeds:
            upstream = results[source]
            x = upstream.slot(slot)
            if x is None:
                return _missing_input(source, upstream, slot)
            tensors.append(x)
        input_shapes = tuple([t.shape for t in tensors])
        dtypes = tuple([t.dtype for t in tensors])
        batch_axes = tuple([t.batch_axis for t in tensors])
        key = (data["signature"], input_shapes, dtypes, batch_axes)
        known = self._memo.known.get(key) or self._memo.learn(
            spec, data["params"], input_shapes, dtypes, 0, key, batch_axes
        )
        out = known.output
        if out is None:
            return new_tuple(NodeResult, (None,) + known.tail)
        if not tensors:  # the Input: its own fields
            fields, extra = out.fields, ()
        elif spec.merges_fields:
            fields, extra = merged_fields(tensors, out.shape)
        else:  # MatMul, attention, Stack: every output unit sees all of every input
            fields, extra = None, ()
        if fields is not None and _exceeds(fields) and not any(_exceeds(x.fields) for x in tensors):
            extra += (oversized_field_warning(fields),)
        tensor = new_tuple(Tensor, (out.shape, fields, out.dtype, out.batch_axis))
        result = new_tuple(NodeResult, (tensor,) + known.tail)
        if "shares" in data:  # its weights are counted once, on the node that holds them
            result = result._replace(params=0, buffers=0)
        return result._replace(warnings=result.warnings + extra) if extra else result


def _missing_input(source: str, upstream: NodeResult, slot: int) -> NodeResult:
    """The result of a node whose input has no value: it waits on an upstream error, or
    reads an output slot its source does not have."""
    if upstream.output is None:
        return NodeResult(None, blocked_by=upstream.blocked_by or source)
    count = len(upstream.outputs)
    has = "1 output (0)" if count == 1 else f"{count} outputs (0 to {count - 1})"
    return NodeResult(None, error=f"reads output {slot} of {source}, which has {has}")


def _exceeds(fields: Fields | None) -> bool:
    """Whether a receptive field is larger than the input along some axis. The warning
    is said where this first becomes true: at a node whose inputs do not exceed, and
    not at a global pooling (an output of one position per axis is meant to see it all)."""
    if fields is not None:
        for field in fields:
            if field.size > field.extent:
                return True
    return False


def _global_reduction(before: Shape, after: Shape) -> bool:
    """A layer that reduces a map to one position per axis (global pooling): its field is
    meant to cover the whole input, padding of earlier layers included."""
    return all(size == 1 for size in after[1:]) and any(size > 1 for size in before[1:])


def _reads_the_same(old: NodeResult, new: NodeResult) -> bool:
    """Whether successors would see no difference: the same output, or the same blocker."""
    return (
        old.output == new.output
        and old.more == new.more
        and (old.error is None) == (new.error is None)
        and old.blocked_by == new.blocked_by
    )


def _port_problem(
    kind: str, limits: tuple[int, int | None], feeds: list[tuple[int, str, int]]
) -> str | None:
    """What is wrong with a node's wiring (`feeds` sorted by port), or None."""
    fewest, most = limits
    wired = len(feeds)
    if (
        fewest <= wired
        and (most is None or wired <= most)
        and (not feeds or feeds[-1][0] == wired - 1)
    ):
        return None  # ports 0 to n-1, each taken once (Architecture refuses a taken port)
    ports = [feed[0] for feed in feeds]
    if most is not None and len(ports) > most:
        takes = "no input" if most == 0 else f"{most} input{'s' if most > 1 else ''}"
        return (
            f"{kind} takes {takes}, but {len(ports)} {'is' if len(ports) == 1 else 'are'} connected"
        )
    for port in range(max(fewest, len(ports))):
        if port not in ports:
            return f"input port {port} is not connected"
    return None


def analyse(arch: Architecture, settings: Settings | None = None) -> Engine:
    """A one-off full analysis, for the command line and tests."""
    engine = Engine(arch, settings)
    engine.update()
    engine.close()
    return engine
