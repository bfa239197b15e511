"""The orders of a design's nodes: Kahn's topological order, read from networkx's dicts,
and whether a file's own order already is it (so that a large file needs no sort)."""

from __future__ import annotations

import heapq
from itertools import compress, repeat
from operator import lt, not_
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from designer.core.columns import EdgeColumns


def kahn_keeps_file_order(edges: EdgeColumns, count: int) -> bool:
    """Whether `topological_order` of the graph `write_graph` builds from these edges
    (their ends places among `count` nodes) is the file's order, so that no sort is
    needed. It is where every edge runs forward, the edges are listed by target (as `save`
    lists them: each node's successors then come in file order), the nodes no edge feeds
    come first and each later one is fed, and each node's last producer (the one whose
    turn in Kahn's walk frees it) is no earlier than the node before it's. A chain or a
    design of residual blocks passes; one whose branches interleave does not."""
    sources, targets = edges.sources, edges.targets
    if not targets:
        return True
    if not all(map(lt, sources, targets)):
        return False
    fed = targets[0] - 1  # the node the edges so far feed (none yet: the one before)
    last = latest = -1  # the last producer of the node before, and of this one so far
    for source, target in zip(sources, targets):
        if target != fed:
            if target != fed + 1 or latest < last:
                return False
            fed, last, latest = target, latest, source
        elif source > latest:
            latest = source
    return fed == count - 1 and latest >= last


def topological_order(graph: nx.MultiDiGraph, by_seq: bool = False) -> list[str]:
    """Kahn's algorithm over networkx's adjacency dicts; shorter than the graph where
    there is a cycle. With `by_seq`, ties go to the earlier node in the file.

    This runs on every load and structural edit, so it reads the dicts directly: several
    times faster than `nx.topological_sort`. Counts are of distinct producers, which is
    all the order needs. A file written in topological order (the usual case) comes back
    in file order without a heap.
    """
    pred, succ = graph._pred, graph._succ
    if by_seq:
        seq = graph._node
        ordered = sorted(graph, key=lambda n: seq[n]["seq"])
        placed: set[str] = set()
        for node in ordered:
            if not placed.issuperset(pred[node]):
                break
            placed.add(node)
        else:
            return ordered
        ready = [(seq[n]["seq"], n) for n, sources in pred.items() if not sources]
        heapq.heapify(ready)
        waiting = {n: len(sources) for n, sources in pred.items()}
        order = []
        while ready:
            _, node = heapq.heappop(ready)
            order.append(node)
            for target in succ[node]:
                waiting[target] -= 1
                if waiting[target] == 0:
                    heapq.heappush(ready, (seq[target]["seq"], target))
        return order
    counts = list(map(len, pred.values()))  # in C: a large graph's nodes are millions
    order = list(compress(pred, map(not_, counts)))
    waiting = dict(compress(zip(pred, counts), map(lt, repeat(1), counts)))  # fed by several
    for node in order:  # the list grows while it is walked
        for target in succ[node]:
            if target not in waiting:  # its one producer is placed: so is it
                order.append(target)
                continue
            waiting[target] -= 1
            if waiting[target] == 0:
                order.append(target)
    return order
