"""Incremental propagation: keeps every node's NodeResult current as the graph is edited.

The engine listens to the Architecture. An edit marks the nodes it touched; `refresh`
re-evaluates them in topological order and walks downstream only while a node's output
(shape and receptive fields) or its error state changed, so an edit that changes nothing
downstream costs one evaluation.
"""

from __future__ import annotations

import heapq
from math import prod
from typing import Any, NamedTuple

import networkx as nx

from designer.core import registry
from designer.core.analysis import (
    NEIGHBOUR_CHECKED,
    NodeResult,
    Settings,
    Totals,
    any_field_exceeds,
    neighbour_warnings,
    oversized_field_warning,
    totals,
)
from designer.core.graph import Architecture, Change, ChangeKind
from designer.core.memo import LayerMemo
from designer.core.spec import LayerError, Tensor


class Topology(NamedTuple):
    """The graph's order and wiring, rebuilt after each structural edit."""

    order: list[str]
    position: dict[str, int]
    feeds: dict[str, list[tuple[int, str]]]  # node → (port, source), by port
    consumers: dict[str, list[str]]


def topology(graph: nx.MultiDiGraph) -> Topology:
    """Kahn's algorithm, building each node's ordered inputs in the same pass.

    This runs after every structural edit, so it reads networkx's adjacency dicts directly:
    about three times faster than `nx.topological_sort` followed by `in_edges` views on a
    10,000-node graph. The graph is acyclic by construction (Architecture refuses cycles).
    """
    feeds = {node: _ordered_feeds(sources) for node, sources in graph._pred.items()}
    consumers = {node: list(targets) for node, targets in graph._succ.items()}
    waiting = {node: len(inputs) for node, inputs in feeds.items()}
    order = [node for node, count in waiting.items() if count == 0]
    for node in order:  # the list grows while it is walked
        for target, keys in graph._succ[node].items():
            waiting[target] -= len(keys)
            if waiting[target] == 0:
                order.append(target)
    return Topology(order, {node: i for i, node in enumerate(order)}, feeds, consumers)


def _ordered_feeds(sources: dict[str, dict[int, Any]]) -> list[tuple[int, str]]:
    if len(sources) == 1:  # one producer, usually on one port: no sorting to do
        ((source, ports),) = sources.items()
        if len(ports) == 1:
            return [(next(iter(ports)), source)]
    return sorted((port, source) for source, ports in sources.items() for port in ports)


class Engine:
    """The analysis of one Architecture, kept up to date edit by edit."""

    def __init__(self, arch: Architecture, settings: Settings | None = None) -> None:
        self.arch = arch
        self.settings = settings or Settings()
        self.results: dict[str, NodeResult] = {}
        self._dirty: set[str] = set(arch.graph)
        self._topology: Topology | None = None
        self._oversized: set[str] = set()  # nodes whose receptive field outgrew the input
        self._memo = LayerMemo()
        arch.subscribe(self._on_change)

    def close(self) -> None:
        """Stop following the Architecture."""
        self.arch.unsubscribe(self._on_change)

    def set_settings(self, settings: Settings) -> None:
        """Memory figures depend on batch and dtype: everything is re-evaluated."""
        self.settings = settings
        self._dirty.update(self.arch.graph)

    def totals(self) -> Totals:
        self.refresh()
        return totals(self.results, self.settings)

    def result(self, node_id: str) -> NodeResult:
        self.refresh()
        return self.results[node_id]

    def refresh(self) -> set[str]:
        """Bring results up to date; returns the ids whose results changed or went away."""
        if not self._dirty:
            return set()
        graph = self.arch.graph
        present = graph._node  # networkx's node dict: membership without the view's overhead
        changed = {n for n in self._dirty if n not in present}
        for gone in changed:
            self.results.pop(gone, None)
            self._oversized.discard(gone)
        if self._topology is None:
            self._topology = topology(graph)
        self._bytes_per_element = self.settings.batch_size * self.settings.bytes_per_value
        pending = [n for n in self._dirty if n in present]
        self._dirty.clear()
        if len(pending) == len(graph):
            self._evaluate_all(changed)
        else:
            self._evaluate_downstream(pending, changed)
        return changed

    def _evaluate_all(self, changed: set[str]) -> None:
        results, feeds, nodes = self.results, self._topology.feeds, self.arch.graph._node
        for node_id in self._topology.order:
            new = self._evaluate(node_id, nodes[node_id], feeds[node_id])
            if results.get(node_id) != new:
                results[node_id] = new
                changed.add(node_id)

    def _evaluate_downstream(self, pending: list[str], changed: set[str]) -> None:
        """Walk down from the edited nodes, only while what successors read changes."""
        position, feeds, consumers = self._topology.position, self._topology.feeds, self._topology.consumers
        nodes = self.arch.graph._node
        heap = [(position[n], n) for n in pending]
        heapq.heapify(heap)
        queued = set(pending)
        while heap:
            _, node_id = heapq.heappop(heap)
            old = self.results.get(node_id)
            new = self._evaluate(node_id, nodes[node_id], feeds[node_id])
            if new == old:
                continue
            self.results[node_id] = new
            changed.add(node_id)
            if old is None or _seen_downstream(old) != _seen_downstream(new):
                for consumer in consumers[node_id]:
                    if consumer not in queued:
                        queued.add(consumer)
                        heapq.heappush(heap, (position[consumer], consumer))

    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.COSMETIC:
            return
        if change.kind is ChangeKind.STRUCTURE:
            self._topology = None
        self._dirty.update(change.nodes)

    def _evaluate(self, node_id: str, data: dict, feeds: list[tuple[int, str]]) -> NodeResult:
        """One node's result from its inputs' results. This is the hot path of every
        analysis, so the common cases are tested inline before anything is called."""
        kind = data["type"]
        spec = registry.LAYERS[kind]
        if not (len(feeds) == 1 and feeds[0][0] == 0 and spec.inputs == (1, 1)):
            problem = _port_problem(kind, spec.inputs, feeds)
            if problem:
                self._oversized.discard(node_id)
                return NodeResult(None, error=problem)
        results, oversized = self.results, self._oversized
        tensors = []
        seen_oversized = False
        for _, source in feeds:
            upstream = results[source]
            if upstream.output is None:
                oversized.discard(node_id)
                return NodeResult(None, blocked_by=upstream.blocked_by or source)
            tensors.append(upstream.output)
            seen_oversized = seen_oversized or source in oversized
        input_shapes = tuple([t.shape for t in tensors])
        try:
            out, fields = self._memo.evaluate(spec, data["params"], tensors)
        except LayerError as error:
            oversized.discard(node_id)
            return NodeResult(None, input_shapes, error=str(error))
        warnings = out.warnings
        if kind in NEIGHBOUR_CHECKED:
            params = {**spec.defaults, **data["params"]}
            warnings += neighbour_warnings(self.arch.graph, node_id, kind, params)
        shape = out.shape
        if fields is not None and any_field_exceeds(fields):
            oversized.add(node_id)
            if not seen_oversized:  # said once, where the field first outgrows the input
                warnings += (oversized_field_warning(fields),)
        else:
            oversized.discard(node_id)
        first = tensors[0] if tensors else None
        if first is not None and first.fields is fields and first.shape == shape:
            tensor = first  # a pointwise layer passes its input's tensor on
        else:
            tensor = Tensor(shape, fields)
        return NodeResult(
            tensor,
            input_shapes,
            out.params,
            out.buffers,
            out.macs,
            out.flops,
            prod(shape) * self._bytes_per_element,
            warnings,
        )


def _seen_downstream(result: NodeResult) -> tuple:
    """What successors read from a node: its output, or which error blocks it."""
    return result.output, result.error is not None, result.blocked_by


def _port_problem(kind: str, limits: tuple[int, int | None], feeds: list[tuple[int, str]]) -> str | None:
    if limits == (1, 1) and len(feeds) == 1 and feeds[0][0] == 0:
        return None  # the common case, decided without building a list
    fewest, most = limits
    ports = [port for port, _ in feeds]
    if most is not None and len(ports) > most:
        takes = "no input" if most == 0 else f"{most} input{'s' if most > 1 else ''}"
        return f"{kind} takes {takes}, but {len(ports)} {'is' if len(ports) == 1 else 'are'} connected"
    for port in range(max(fewest, len(ports))):
        if port not in ports:
            return f"input port {port} is not connected"
    return None


def analyse(arch: Architecture, settings: Settings | None = None) -> Engine:
    """A one-off full analysis, for the command line and tests."""
    engine = Engine(arch, settings)
    engine.refresh()
    engine.close()
    return engine
