"""Positions for a graph that has none: layers top to bottom, by topological generation."""

from __future__ import annotations

import networkx as nx

ROW_HEIGHT = 120.0
COLUMN_WIDTH = 220.0


def layered_positions(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Each node's (x, y): one row per topological generation, rows centred on x = 0,
    nodes in a row ordered by the mean column of what feeds them, so edges cross less."""
    positions: dict[str, tuple[float, float]] = {}
    for row, generation in enumerate(nx.topological_generations(graph)):

        def feeding_column(node: str) -> float:
            xs = [positions[p][0] for p in graph.predecessors(node)]
            return sum(xs) / len(xs) if xs else 0.0

        ordered = sorted(generation, key=lambda n: (feeding_column(n), graph.nodes[n]["seq"]))
        left = -(len(ordered) - 1) * COLUMN_WIDTH / 2
        for column, node in enumerate(ordered):
            positions[node] = (left + column * COLUMN_WIDTH, row * ROW_HEIGHT)
    return positions
