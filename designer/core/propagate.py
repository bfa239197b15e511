"""Incremental propagation: keeps every node's NodeResult current as the graph is edited.

The engine listens to the Architecture. An edit marks the nodes it touched; `refresh`
re-evaluates them in topological order and walks downstream only while a node's output
(shape and receptive fields) or its error state changed, so an edit that changes nothing
downstream costs one evaluation.
"""

from __future__ import annotations

import heapq
import networkx as nx

from designer.core import registry
from designer.core.analysis import (
    NodeResult,
    Settings,
    Totals,
    neighbour_warnings,
    oversized_field_warning,
    totals,
)
from designer.core.graph import Architecture, Change, ChangeKind
from designer.core.spec import LayerError, Tensor, numel


class Engine:
    """The analysis of one Architecture, kept up to date edit by edit."""

    def __init__(self, arch: Architecture, settings: Settings | None = None) -> None:
        self.arch = arch
        self.settings = settings or Settings()
        self.results: dict[str, NodeResult] = {}
        self._dirty: set[str] = set(arch.graph)
        self._order: dict[str, int] | None = None
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
        changed = {n for n in self._dirty if n not in graph}
        for gone in changed:
            self.results.pop(gone, None)
        order = self._topological_order()
        heap = [(order[n], n) for n in self._dirty if n in graph]
        self._dirty.clear()
        heapq.heapify(heap)
        done: set[str] = set()
        while heap:
            _, node_id = heapq.heappop(heap)
            if node_id in done:
                continue
            done.add(node_id)
            old = self.results.get(node_id)
            new = self._evaluate(node_id)
            if new == old:
                continue
            self.results[node_id] = new
            changed.add(node_id)
            if old is None or _seen_downstream(old) != _seen_downstream(new):
                for successor in graph.successors(node_id):
                    if successor not in done:
                        heapq.heappush(heap, (order[successor], successor))
        return changed

    def _on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.COSMETIC:
            return
        if change.kind is ChangeKind.STRUCTURE:
            self._order = None
        self._dirty.update(change.nodes)

    def _topological_order(self) -> dict[str, int]:
        if self._order is None:
            self._order = {n: i for i, n in enumerate(nx.topological_sort(self.arch.graph))}
        return self._order

    def _evaluate(self, node_id: str) -> NodeResult:
        graph = self.arch.graph
        data = graph.nodes[node_id]
        spec = registry.LAYERS[data["type"]]
        feeds = sorted((port, source) for source, _, port in graph.in_edges(node_id, keys=True))
        problem = _port_problem(data["type"], spec.inputs, [port for port, _ in feeds])
        if problem:
            return NodeResult(None, error=problem)
        upstream = [self.results[source] for _, source in feeds]
        for source_result, (_, source) in zip(upstream, feeds):
            if source_result.output is None:
                return NodeResult(None, blocked_by=source_result.blocked_by or source)
        tensors = [r.output for r in upstream]
        input_shapes = tuple(t.shape for t in tensors)
        params = spec.resolve(data["params"])
        try:
            out = spec.evaluate(tensors, params)
        except LayerError as error:
            return NodeResult(None, input_shapes, error=str(error))
        warnings = [*out.warnings, *neighbour_warnings(graph, node_id, params)]
        oversized = oversized_field_warning(out.fields, [t.fields for t in tensors])
        if oversized:
            warnings.append(oversized)
        return NodeResult(
            Tensor(out.shape, out.fields),
            input_shapes,
            params=out.params,
            buffers=out.buffers,
            macs=out.macs,
            flops=out.flops,
            memory=numel(out.shape) * self.settings.batch_size * self.settings.bytes_per_value,
            warnings=tuple(warnings),
        )


def _seen_downstream(result: NodeResult) -> tuple:
    """What successors read from a node: its output, or which error blocks it."""
    return result.output, result.error is not None, result.blocked_by


def _port_problem(kind: str, limits: tuple[int, int | None], ports: list[int]) -> str | None:
    fewest, most = limits
    if most is not None and len(ports) > most:
        takes = "no input" if most == 0 else f"{most} input{'s' if most > 1 else ''}"
        return f"{kind} takes {takes}, but {len(ports)} are connected"
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
